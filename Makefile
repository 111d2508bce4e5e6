# The README's two commands: `make demo` and `make test`. Each installs what it needs first.
PYTHON ?= python3
OUT ?= demo_out

.PHONY: install demo test

install:
	@# torch first: on machines without CUDA the CPU build must be in place before pip
	@# resolves our dependencies, or pip pulls the multi-GB CUDA build.
	@$(PYTHON) -c "import torch" 2>/dev/null || $(PYTHON) -m pip install -q torch==2.13.0
	@$(PYTHON) -m pip install -q -e ".[dev]"

demo: install
	$(PYTHON) -m hmr.cli demo --out $(OUT)

test: install
	$(PYTHON) -m pytest -q
