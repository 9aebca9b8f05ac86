# Bytecode for the runtime's Python, shipped in the layer. Lambda's /opt is read-only, so a layer
# without it compiles every module it imports at each cold start (about 60 ms for qqbus alone);
# pip's own .pyc are for the Python that runs pip and are never loaded by 3.13 (--no-compile).
# checked-hash: a .pyc is used only while its source is unchanged, whatever the zip does to mtimes.
PY313 ?= $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
	$$p -c '' 2>/dev/null && { echo $$p; break; }; done)
ifneq ($(strip $(PY313)),)
COMPILE_LAYER = $(PY313) -m compileall -q -j 0 --invalidation-mode checked-hash "$(ARTIFACTS_DIR)/python"
else
COMPILE_LAYER = @echo "no python3.13 found (PY313=...): this layer ships no bytecode; its modules compile at each cold start"
endif
