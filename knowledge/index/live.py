"""The live index of a running process, swapped atomically when a new version is published."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from knowledge.index.catalog import Catalog, load_products
from knowledge.index.hybrid import HybridIndex
from knowledge.index.product_match import ProductMatcher
from knowledge.index.sentence_vectors import SentenceVectors
from knowledge.index.versions import Manifest, VersionStore
from knowledge.index.vocabulary import Vocabulary


class NoIndexError(RuntimeError):
    """No version has been built yet."""


class ModelMismatchError(RuntimeError):
    """The version was built with a different embedding model than this process uses."""


@dataclass(frozen=True, slots=True)
class LiveIndex:
    manifest: Manifest
    index: HybridIndex
    catalog: Catalog
    matcher: ProductMatcher
    sentences: SentenceVectors
    vocabulary: Vocabulary

    @classmethod
    def load(cls, store: VersionStore, version: str) -> LiveIndex:
        path = store.path(version)
        catalog = Catalog(load_products(path))
        sentences = SentenceVectors.load(path)
        # Every sentence an answer may quote (product texts included), and the products' names and options
        words = [*sentences.texts, *(f"{p.title} {' '.join(v for o in p.options for v in o.values)}" for p in catalog)]
        return cls(Manifest.read(path), HybridIndex.load(path), catalog, ProductMatcher(catalog), sentences,
                   Vocabulary(words if sentences.texts else ()))


class IndexHandle:
    """Holds the live index. Readers take `live` once per question, so a swap never changes the
    index under a question in flight: it finishes on the version it started with."""

    def __init__(self, store: VersionStore, embedding_model: str | None = None) -> None:
        self.store = store
        self._embedding_model = embedding_model  # set: refuse versions built with another model
        self._live: LiveIndex | None = None
        self._loading = threading.Lock()

    @property
    def live(self) -> LiveIndex:
        live = self._live
        if live is None:
            raise NoIndexError(f"no knowledge base version in {self.store.root}; run `storebot kb build`")
        return live

    @property
    def version(self) -> str | None:
        return self._live.manifest.version if self._live else None

    def pin(self, version: str) -> None:
        """Serve one given version (e.g. a staged build under test), whatever CURRENT says."""
        with self._loading:
            self._live = LiveIndex.load(self.store, version)

    def refresh(self) -> bool:
        """Load the store's current version if it differs from the live one; True if swapped."""
        with self._loading:
            current = self.store.current()
            if current is None or current == self.version:
                return False
            loaded = LiveIndex.load(self.store, current)
            built_with = loaded.manifest.embedding_model
            if self._embedding_model is not None and built_with != self._embedding_model:
                raise ModelMismatchError(
                    f"version {current} was built with {built_with}, but this process embeds questions with "
                    f"{self._embedding_model}; set EMBED_MODEL to the same model (the old version keeps serving)")
            self._live = loaded
            return True
