"""The campaign graph: model, validation, compile, versioned publish."""
