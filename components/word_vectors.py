"""Dense sentence vectors from the word embedding table that ships inside the wordllama wheel
(requirements-nodeps.in): a 32,000 x 256 table over the Llama 2 tokenizer's vocabulary, trained
by WordLlama from Llama 2's token embeddings (Llama 2 Community License, see README).

The wordllama package itself is never imported (it needs pydantic 2 and NumPy 2, which Rasa 3.6
does not allow): importlib finds its folder without running its __init__, safetensors reads the
table and tokenizers the tokenizer file. A sentence's vector is what WordLlamaInference.embed
computes: tokenize without special tokens, look each token up, average over the real (not
padding) tokens, then scale to unit length.
"""
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any, List, Optional, Text

import numpy as np
from rasa.shared.exceptions import RasaException

PACKAGE = "wordllama"
WEIGHTS = Path("weights") / "l2_supercat_256.safetensors"
TOKENIZER = Path("tokenizers") / "l2_supercat_tokenizer_config.json"
TENSOR = "embedding.weight"
BATCH = 64  # texts per tokenizer batch, as WordLlama does: padding is to the longest in a batch


class WordVectorsUnavailable(RasaException):
    """The word vector files from the wordllama wheel are missing or unreadable."""


def package_dir() -> Optional[Path]:
    """The installed wordllama folder, found without importing (running) the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


class WordVectors:
    def __init__(self, embedding: np.ndarray, tokenizer: Any) -> None:  # a tokenizers.Tokenizer
        self.embedding = np.ascontiguousarray(embedding, dtype=np.float32)
        self.tokenizer = tokenizer
        self.tokenizer.enable_padding()  # pads with id 0; the attention mask leaves it out
        self.tokenizer.no_truncation()

    @property
    def dim(self) -> int:
        return self.embedding.shape[1]

    @classmethod
    def from_directory(cls, directory: Optional[Path]) -> "WordVectors":
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        where = directory or Path(f"<site-packages>/{PACKAGE}")
        for relative in (WEIGHTS, TOKENIZER):
            if directory is None or not (directory / relative).is_file():
                raise WordVectorsUnavailable(
                    f"Word vector file {where / relative} is missing: it ships in the "
                    f"wordllama==0.4.0.post1 wheel (requirements-nodeps.in). Run `make setup`, "
                    f"or set word_vectors: false for the intent classifier in config.yml."
                )
        try:
            tensors = load_file(str(directory / WEIGHTS))
            tokenizer = Tokenizer.from_file(str(directory / TOKENIZER))
        except Exception as error:
            raise WordVectorsUnavailable(
                f"Cannot read the word vectors in {directory}: {type(error).__name__}: {error}"
            ) from error
        if TENSOR not in tensors or tensors[TENSOR].ndim != 2:
            raise WordVectorsUnavailable(
                f"{directory / WEIGHTS} has no 2-D tensor '{TENSOR}' (found {sorted(tensors)})"
            )
        return cls(tensors[TENSOR], tokenizer)

    def sentence_vectors(self, texts: List[Text]) -> np.ndarray:
        """One unit-length row per text (all zeros for a text with no tokens), float32."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            encodings = self.tokenizer.encode_batch(
                [t or "" for t in texts[start : start + BATCH]], add_special_tokens=False
            )
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
            if ids.size == 0:
                continue  # every text in the batch is empty: zero vectors
            np.clip(ids, 0, self.embedding.shape[0] - 1, out=ids)
            summed = np.einsum("bt,btd->bd", mask, self.embedding[ids])
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[start : start + len(encodings)] = pooled / np.maximum(norms, 1e-12)
        return out


@lru_cache(maxsize=1)
def load() -> WordVectors:
    """The installed table, read once per process."""
    return WordVectors.from_directory(package_dir())


def sentence_vectors(texts: List[Text]) -> np.ndarray:
    return load().sentence_vectors(list(texts))
