.PHONY: test demo install bench

install:
	scripts/install.sh

test:
	scripts/test.sh

demo:
	scripts/demo.sh

bench:
	scripts/install.sh && .venv/bin/python -m bench.retrieval
