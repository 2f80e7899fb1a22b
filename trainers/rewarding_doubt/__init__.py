"""The Rewarding Doubt trainer (arXiv 2503.02623) on TRL GRPO: see README.md in this folder."""
