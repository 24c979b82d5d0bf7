"""The investing app's feed: each trading day published into the five tables the app reads."""
