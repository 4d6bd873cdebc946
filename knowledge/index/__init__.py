"""The versioned hybrid index: nodes, embedding, faiss + BM25, versions on disk, the live handle, retrieval."""
