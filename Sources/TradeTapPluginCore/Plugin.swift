// Plugin engine.
