"""Records → LlamaIndex TextNodes (what is shown and cited) and search keys (what is matched).

An FAQ node is found through every phrasing of its question (question, alternates, past
questions) and its answer; a past question is only ever a key, never shown. Long product
documents are chunked; each chunk is matched with its product title in front.
"""

from __future__ import annotations

from dataclasses import dataclass

from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import TextNode

from knowledge.records import LoadedSources, ProductDoc

CHUNK_WORDS = 160


@dataclass(frozen=True, slots=True)
class SearchKey:
    text: str
    node: int  # index into the node list
    kind: str  # "question" | "alternate" | "past_question" | "answer" | "product"


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
    splitter = SentenceSplitter(chunk_size=CHUNK_WORDS, chunk_overlap=20, tokenizer=str.split)
    for doc in sources.products:
        for number, chunk in enumerate(_chunks(doc, splitter)):
            index = len(nodes)
            nodes.append(TextNode(
                id_=f"product:{doc.id}" + (f"#{number}" if number else ""),
                text=chunk,
                metadata={"kind": "product", "title": doc.title, "url": doc.url,
                          "source": f"{doc.origin.path}:{doc.origin.line}", **doc.metadata},
            ))
            keys.append(SearchKey(f"{doc.title}\n{chunk}" if doc.title else chunk, index, "product"))
    return nodes, keys


def _chunks(doc: ProductDoc, splitter: SentenceSplitter) -> list[str]:
    if len(doc.text.split()) <= CHUNK_WORDS:
        return [doc.text]
    return [c for c in splitter.split_text(doc.text) if c.strip()]
