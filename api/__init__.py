"""The HTTP report API (`turnout api`, or embedded in `turnout ingest --api`)."""
