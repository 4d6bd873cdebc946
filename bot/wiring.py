"""Builds the knowledge components a process needs from its settings."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings
from knowledge.builder import BuildOptions
from knowledge.embedding import BUNDLED_MODEL, Embedder, EmbeddingCache, OpenAIEmbedder, SentenceTransformerEmbedder
from knowledge.loader import LoadOptions
from knowledge.product_loader import CatalogFields
from knowledge.versions import VersionStore


def make_embedder(settings: Settings) -> Embedder:
    if settings.embed_model.startswith("openai:"):
        return OpenAIEmbedder(
            settings.embed_model.removeprefix("openai:"), settings.openai_api_key, settings.openai_base_url
        )
    model = BUNDLED_MODEL if settings.embed_model == "bundled" else settings.embed_model
    return SentenceTransformerEmbedder(model)


def make_store(settings: Settings, data_dir: Path | None = None) -> VersionStore:
    return VersionStore(data_dir or settings.kb_data_dir, keep=settings.kb_keep_versions)


def make_cache(settings: Settings) -> EmbeddingCache:
    return EmbeddingCache(settings.kb_data_dir / "embeddings.sqlite")


def build_options(settings: Settings) -> BuildOptions:
    text_fields = tuple(f.strip() for f in settings.kb_catalog_text_fields.split(",") if f.strip())
    return BuildOptions(
        load=LoadOptions(
            max_file_bytes=int(settings.kb_max_file_mb * 1024 * 1024),
            catalog_fields=CatalogFields(text=text_fields),
        ),
        decline_share=settings.kb_decline_share,
        faq_threshold=settings.kb_faq_threshold,
        product_threshold=settings.kb_product_threshold,
    )
