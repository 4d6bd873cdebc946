"""Measuring retrieval on labelled questions, and fine-tuning the embedding model on them."""
