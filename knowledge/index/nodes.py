"""Records → LlamaIndex TextNodes (what is shown and cited) and search keys (what is matched).

An FAQ node is found through every phrasing of its question (question, alternates, past
questions) and its answer; a past question is only ever a key, never shown. Product descriptions and
page sections are chunked at sentence and element boundaries; each chunk is matched with its title in
front. A product's options and category are one more key of its first chunk, so "do you have hoodies
in purple" finds a product whose description never says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from llama_index.core.schema import TextNode

from knowledge.sources.chunking import chunk_text
from knowledge.sources.records import LoadedSources, ProductRecord

CHUNK_WORDS = 160


@dataclass(frozen=True, slots=True)
class SearchKey:
    text: str
    node: int  # index into the node list
    kind: str  # "question" | "alternate" | "past_question" | "answer" | "product" | "facts" | "page"


def build_nodes(sources: LoadedSources) -> tuple[list[TextNode], list[SearchKey]]:
    nodes: list[TextNode] = []
    keys: list[SearchKey] = []
    past_by_faq: dict[str, list[str]] = {}
    for past in sources.past_questions:
        past_by_faq.setdefault(past.faq_id, []).append(past.question)
    for entry in sources.faqs:
        index = len(nodes)
        nodes.append(TextNode(
            id_=f"faq:{entry.id}",
            text=entry.answer,
            metadata={"kind": "faq", "faq_id": entry.id, "title": entry.question, "url": entry.url,
                      "source": f"{entry.origin.path}:{entry.origin.line}", "tags": ",".join(entry.tags)},
        ))
        keys.append(SearchKey(entry.question, index, "question"))
        keys.extend(SearchKey(alt, index, "alternate") for alt in entry.alternates)
        keys.extend(SearchKey(q, index, "past_question") for q in past_by_faq.get(entry.id, ()))
        keys.append(SearchKey(f"{entry.question}\n{entry.answer}", index, "answer"))
    products = {p.id: p for p in sources.products}
    for doc in sources.documents:
        prefix = "product" if doc.kind == "product" else doc.kind
        for number, chunk in enumerate(chunk_text(doc.text, CHUNK_WORDS) or [doc.title]):
            index = len(nodes)
            nodes.append(TextNode(
                id_=f"{prefix}:{doc.id}" + (f"#{number}" if number else ""),
                text=chunk,
                metadata={**doc.metadata, "kind": doc.kind, "title": doc.title, "url": doc.url,
                          "source": f"{doc.origin.path}:{doc.origin.line}", "product_id": doc.product_id},
            ))
            keys.append(SearchKey(f"{doc.title}\n{chunk}" if doc.title else chunk, index, doc.kind))
            product = products.get(doc.product_id)
            if number == 0 and product is not None and (product.options or product.category):
                keys.append(SearchKey(facts_key(product), index, "facts"))
    return nodes, keys


def facts_key(product: ProductRecord) -> str:
    """Title, category and option values: what a shopper names when looking for a kind of product."""
    options = "; ".join(f"{o.name}: {', '.join(o.values)}" for o in product.options)
    return "\n".join(part for part in (product.title, product.category, options) if part)
