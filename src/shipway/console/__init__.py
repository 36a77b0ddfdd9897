"""The management console (W1-W5): server-rendered pages over the same API and role table."""
