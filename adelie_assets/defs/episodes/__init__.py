"""The market episode calendar: a reviewed data file of KRX market episodes, its reader
(`episode_on`, `episodes_on`) and its check against the warehouse (docs/episodes.md)."""
