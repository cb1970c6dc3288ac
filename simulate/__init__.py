"""`turnout simulate`: synthetic traffic and postbacks against a running edge, and the
ground truth the reports must show for it."""
