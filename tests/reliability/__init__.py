"""The fault matrix of issue 6: every fault injected for real; see docs/reliability.md."""
