"""The store's knowledge: loaders, the versioned hybrid index and retrieval. Imports nothing from bot/."""
