"""The projector process: folds published events into the role views."""
