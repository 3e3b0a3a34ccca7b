"""Compiled (numba) text kernels shared by the MinHash and DSIR metrics.

* :mod:`~dqreview.textkernels.scan`: UTF-8 scanners of a batch of texts packed in one byte buffer — the
  ``str.split`` word scanner (MinHash shingles) and the ``\\w+|[^\\w\\s]+`` scanner (DSIR tokens), with
  their character classes;
* :mod:`~dqreview.textkernels.mix`: FNV-1a and 64-bit finalisers (murmur3 ``fmix64``, multiply-xorshift);
* :mod:`~dqreview.textkernels.tables`: open-addressing hash tables — exact word and shingle ids
  (MinHash), the cached unigram/bigram → SHA-256 bucket tables (DSIR);
* :mod:`~dqreview.textkernels.sha`: SHA-1 (scalar and multi-lane) and SHA-256 ports (FIPS 180-4).

numba's on-disk cache (``cache=True``) is invalidated when a kernel's own file changes, not when a
kernel it calls in another file does: after editing a kernel here, delete the ``__pycache__`` folders
(``*.nbi``/``*.nbc``) of the modules that call it, or they keep the old compiled code.
"""
