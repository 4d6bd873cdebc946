"""Answerers: from a shopper's question (and the conversation so far) to the reply they read."""
