"""Server settings: flags override environment variables (EMBEDSVC_*), which override defaults."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything a deployment can tune; the defaults are the embedded single-machine setup."""

    model_config = SettingsConfigDict(env_prefix="EMBEDSVC_", extra="ignore")

    data_dir: Path = Path("./data")
    # Empty = SQLite file inside data_dir. Any SQLAlchemy URL otherwise.
    database_url: str = ""
    # The default model. Empty = the bundled all-MiniLM-L6-v2; else a local path or a package.
    model: str = ""
    # More models by name (name -> local path or package), each loaded on first use; as JSON
    # in the environment: EMBEDSVC_MODELS='{"e5": "/models/e5-small"}'.
    models: dict[str, str] = Field(default_factory=dict)
    # A re-ranker directory (`embedsvc train linker`) per terminology, for versions loaded
    # without --reranker: EMBEDSVC_LINK_RERANKERS='{"hpo": "/models/hpo-reranker"}'.
    link_rerankers: dict[str, str] = Field(default_factory=dict)
    # Inference runtime: auto (OpenVINO where it can run the model and profile, else torch),
    # openvino, or torch.
    backend: str = Field("auto", pattern="^(auto|openvino|torch)$")
    # Exported and quantized models (empty = $XDG_CACHE_HOME/embedsvc or ~/.cache/embedsvc):
    # they depend on the model and the runtime, not on the data, so every data dir shares them.
    cache_dir: Path | None = None
    # Where vectors are searched (see embedsvc/storage/backends.py).
    vector_backend: str = "faiss"
    # Threads FAISS uses inside one search (and index build); searches run side by side anyway.
    faiss_threads: int = Field(1, ge=1)
    # Open saved FAISS indexes memory-mapped: the vectors stay in the file's pages (read on
    # demand, reclaimable) instead of being copied into the process; a space is read into
    # memory on its first write (see README, "Vector index types").
    faiss_mmap: bool = True
    # FAISS index of a new collection whose request names none: flat (exact), hnsw or ivf.
    # The parameters below are a new collection's defaults; each collection keeps the values it
    # was created with (CreateCollection may set its own).
    faiss_index: str = Field("flat", pattern="^(flat|hnsw|ivf)$")
    # HNSW: graph links per vector, candidate list while building, and while searching
    # (higher = better recall, slower).
    hnsw_m: int = Field(32, ge=4, le=256)
    hnsw_ef_construction: int = Field(80, ge=8)
    hnsw_ef_search: int = Field(256, ge=1)
    # IVF: clusters (0 = 4 x sqrt(vectors) when trained), clusters searched per query, and the
    # vectors a collection needs before it is clustered (below that its search stays exact).
    ivf_nlist: int = Field(0, ge=0)
    ivf_nprobe: int = Field(16, ge=1)
    ivf_train_size: int = Field(10_000, ge=1)
    # HNSW cannot delete: deleted vectors stay in the graph, filtered out of results, until
    # they are this fraction of it; then the graph is rebuilt from the live vectors.
    hnsw_rebuild_fraction: float = Field(0.25, gt=0, le=1)
    # A filtered search on an ANN index whose filter keeps fewer than this fraction of the
    # vectors is exact over the matching ones (a graph walk would find too few of them).
    ann_exact_fraction: float = Field(0.05, ge=0, le=1)
    # Milvus (vector_backend=milvus): a server or cluster URI such as http://10.0.0.5:19530;
    # empty = Milvus Lite in data_dir/milvus.db, in this process. With a server and PostgreSQL
    # several embedsvc servers share one store (see README, "Scaling out").
    milvus_uri: str = ""
    milvus_token: str = ""
    # Milvus collections are named PREFIX_<collection id>_chunks / _documents, so one Milvus
    # can hold several stores apart.
    milvus_prefix: str = Field("embedsvc", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
    # HNSW (the default), IVF_FLAT, IVF_SQ8, HNSW_SQ or FLAT; empty params take the defaults of
    # embedsvc/storage/milvus_index.py (HNSW: M=16, efConstruction=200; search ef=128).
    milvus_index_type: str = "HNSW"
    milvus_index_params: dict[str, int | float | str] = Field(default_factory=dict)
    milvus_search_params: dict[str, int | float | str] = Field(default_factory=dict)
    host: str = "127.0.0.1"
    port: int = 50051
    # Calls that run at once (each holds a thread); more are refused with RESOURCE_EXHAUSTED.
    # Health checks are never counted.
    max_concurrent_rpcs: int = Field(32, ge=1)
    api_key: str = ""
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    max_batch_texts: int = Field(256, ge=1)
    max_text_chars: int = Field(2_000_000, ge=1)
    max_documents_per_upsert: int = Field(512, ge=1)
    max_k: int = Field(1000, ge=1)
    max_query_chars: int = Field(100_000, ge=1)
    max_request_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    # Server-side batching: padded tokens per forward pass, and texts waiting before
    # RESOURCE_EXHAUSTED.
    max_batch_tokens: int = Field(16384, ge=64)
    max_queue_texts: int = Field(4096, ge=1)
    max_pass_texts: int = Field(32, ge=1)
    # Seconds in-flight requests get to finish after SIGTERM.
    shutdown_grace: float = 30.0
    # Seconds between background saves of changed FAISS indexes.
    flush_interval: float = 30.0
    # OpenAI-compatible HTTP (/v1/embeddings, /v1/models) on this port, same host (0 = off).
    http_port: int = Field(0, ge=0)
    # Prometheus metrics at http://HOST:PORT/metrics on this port (0 = off).
    metrics_port: int = Field(0, ge=0)
    # OpenTelemetry spans to this OTLP/gRPC collector, e.g. http://127.0.0.1:4317 (empty = off).
    otlp_endpoint: str = ""
    # Seconds between database checks; health is NOT_SERVING while the database is down.
    health_interval: float = Field(5.0, gt=0)

    def index_params(self, index: str) -> dict[str, int]:
        """A new collection's default parameters for FAISS index type ``index``."""
        return {
            "flat": {},
            "hnsw": {"m": self.hnsw_m, "ef_construction": self.hnsw_ef_construction,
                     "ef_search": self.hnsw_ef_search},
            "ivf": {"nlist": self.ivf_nlist, "nprobe": self.ivf_nprobe,
                    "train_size": self.ivf_train_size},
        }[index]

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'embedsvc.db').resolve()}"
