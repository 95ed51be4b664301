# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

# The langchain-tests suites bring global pytest plugins and need asyncio_mode=auto: they run
# in an environment of their own, with the client side of embedsvc installed --no-deps.
LC_VENV := .venv-langchain
LC_STAMP := $(LC_VENV)/.installed-stamp

.PHONY: all install run test bench protos clean

all: install

install: $(STAMP)

# torch is pinned to the CPU build that pip finds on this machine; every other package is
# pinned by constraints.txt so a fresh clone resolves exactly what the tests ran with.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip>=24"
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,milvus,ray]'
	touch $(STAMP)

run: install
	$(BIN)/embedsvc serve

$(LC_STAMP): tests_langchain/requirements.txt tests_langchain/constraints.txt pyproject.toml
	test -x $(LC_VENV)/bin/python || $(PYTHON) -m venv $(LC_VENV)
	$(LC_VENV)/bin/pip install --quiet --upgrade "pip>=24"
	$(LC_VENV)/bin/pip install --quiet -r tests_langchain/requirements.txt \
		-c tests_langchain/constraints.txt
	$(LC_VENV)/bin/pip install --quiet --no-deps -e .
	touch $(LC_STAMP)

test: install $(LC_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q
	$(LC_VENV)/bin/python -m pytest -c tests_langchain/pytest.ini -q tests_langchain

# The long-document benchmarks read the Python FAQ and perlfaq from Debian's doc packages.
BENCH_PACKAGES := python3.11-doc perl-doc

bench: install
	@dpkg -s $(BENCH_PACKAGES) >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq $(BENCH_PACKAGES))
	$(BIN)/python bench/run_all.py

# Regenerate the committed gRPC stubs after editing protos/ (a test checks they agree).
protos: install
	$(BIN)/python -m grpc_tools.protoc -Iprotos --python_out=. --grpc_python_out=. \
		--pyi_out=. protos/embedsvc/v1/*.proto

clean:
	rm -rf $(VENV) $(LC_VENV) .pytest_cache .ruff_cache
