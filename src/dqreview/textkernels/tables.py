"""Open-addressing hash tables (linear probing, at most half full) that give strings exact ids.

Two layouts, for two uses:

* per call, grown inside the kernel (MinHash): :func:`intern_words` gives every word (byte span) an
  exact id, :func:`intern_shingles` every shingle (tuple of word ids); a table of ids into a ``keys``
  array of 64-bit hashes, rebuilt at twice the size by :func:`grow_ids`;
* kept between calls, grown by the caller (DSIR's n-gram caches): :func:`unigram_ids` interns tokens
  into an arena and hashes each new one once with SHA-256 into a bucket, :func:`bigram_buckets` caches
  the bucket of each distinct bigram of token ids; tables of (key, value) uint64 slot pairs. A kernel
  stops early and returns how far it got when a table or array is full; the caller grows it
  (:func:`rehash_unigrams`, :func:`rehash_bigrams`) and calls again.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from dqreview.textkernels.mix import fnv1a_xmx, mul_xorshift
from dqreview.textkernels.sha import sha256_mod

_U = np.uint64

# --- exact ids per call (MinHash) ---------------------------------------------------------------


@njit(cache=True)
def grow_ids(table, keys, n):
    """The open-addressing table of ids 0..n-1 (hash keys[id]) rebuilt at twice the size."""
    cap = table.size * 2
    mask = cap - 1
    new = np.full(cap, -1, np.int64)
    for v in range(n):
        slot = np.int64(keys[v] & _U(mask))
        while new[slot] >= 0:
            slot = (slot + 1) & mask
        new[slot] = v
    return new


@njit(cache=True)
def intern_words(buf, start, stop, whash):
    """Exact word ids: ``tok`` (W,) (equal bytes ⇔ equal id) and ``first`` (V,), each id's first word."""
    W = start.size
    table = np.full(1024, -1, np.int64)
    keys = np.empty(W, np.uint64)
    first = np.empty(W, np.int64)
    tok = np.empty(W, np.int64)
    V = 0
    for w in range(W):
        if 2 * (V + 1) > table.size:  # keep the table at most half full
            table = grow_ids(table, keys, V)
        mask = table.size - 1
        h = whash[w]
        slot = np.int64(h & _U(mask))
        while True:
            v = table[slot]
            if v < 0:
                table[slot] = V
                keys[V] = h
                first[V] = w
                tok[w] = V
                V += 1
                break
            f = first[v]
            if keys[v] == h and stop[f] - start[f] == stop[w] - start[w]:
                same = True
                for k in range(stop[w] - start[w]):
                    if buf[start[f] + k] != buf[start[w] + k]:
                        same = False
                        break
                if same:
                    tok[w] = v
                    break
            slot = (slot + 1) & mask
    return tok, first[:V].copy()


@njit(cache=True)
def intern_shingles(sh, doc_s, tok, doc_w, ngram):
    """Exact shingle ids (S,) (equal word-id tuples ⇔ equal id), and each id's first word and width.

    Text d's shingles are its word ``ngram``-grams, or one shingle of all its words when shorter;
    ``sh`` is their 64-bit hashes, ``doc_s``/``doc_w`` the per-text shingle and word offsets.
    """
    n = doc_s.size - 1
    S = sh.size
    table = np.full(1024, -1, np.int64)
    keys = np.empty(S, np.uint64)
    first_pos = np.empty(S, np.int64)
    width = np.empty(S, np.int64)
    uid = np.empty(S, np.int64)
    U = 0
    for d in range(n):
        L = doc_w[d + 1] - doc_w[d]
        k = ngram if L >= ngram else L
        for s in range(doc_s[d], doc_s[d + 1]):
            pos = doc_w[d] + (s - doc_s[d])
            if 2 * (U + 1) > table.size:
                table = grow_ids(table, keys, U)
            mask = table.size - 1
            h = sh[s]
            slot = np.int64(h & _U(mask))
            while True:
                u = table[slot]
                if u < 0:
                    table[slot] = U
                    keys[U] = h
                    first_pos[U] = pos
                    width[U] = k
                    uid[s] = U
                    U += 1
                    break
                if keys[u] == h and width[u] == k:
                    same = True
                    for j in range(k):
                        if tok[first_pos[u] + j] != tok[pos + j]:
                            same = False
                            break
                    if same:
                        uid[s] = u
                        break
                slot = (slot + 1) & mask
    return uid, first_pos[:U].copy(), width[:U].copy()


# --- n-gram → SHA-256 bucket caches kept between calls (DSIR) -----------------------------------


@njit(cache=True)
def unigram_ids(buf, tok_start, tok_end, lo, out, B, slots, arena, w_off, w_len, w_bucket, meta):
    """Token id of each span from ``lo`` on, inserting (and hashing) new tokens.

    Table: ``slots`` uint64[2·cap] = (hash, id + 1) pairs, cap a power of two, linear probing.
    ``meta`` = [number of words, bytes used in ``arena``]. A new token's bytes go to ``arena`` and its
    bucket ``sha256 mod B`` to ``w_bucket``. Stops before a token that would need more room (load > 1/2,
    full ``arena`` or word arrays) and returns the index reached; the caller grows the arrays
    (:func:`rehash_unigrams`) and calls again from there.
    """
    cap = slots.size // 2
    mask = np.uint64(cap - 1)
    W = np.empty(64, dtype=np.uint32)
    H = np.empty(8, dtype=np.uint32)
    msg = np.empty(256, dtype=np.uint8)
    n = tok_start.size
    nw = meta[0]
    used = meta[1]
    i = lo
    while i < n:
        s = tok_start[i]
        e = tok_end[i]
        L = e - s
        h = fnv1a_xmx(buf, s, e)
        j = h & mask
        found = -1
        while True:
            jj = np.int64(j) * 2
            v = slots[jj + 1]
            if v == 0:
                break
            if slots[jj] == h:
                wid = np.int64(v) - 1
                if w_len[wid] == L:
                    o = w_off[wid]
                    same = True
                    for q in range(L):
                        if arena[o + q] != buf[s + q]:
                            same = False
                            break
                    if same:
                        found = wid
                        break
            j = (j + np.uint64(1)) & mask
        if found < 0:
            if 2 * (nw + 1) > cap or used + L > arena.size or nw >= w_off.size:
                break
            for q in range(L):
                arena[used + q] = buf[s + q]
            if msg.size < L + 72:
                msg = np.empty(2 * L + 72, dtype=np.uint8)
            for q in range(L):
                msg[q] = buf[s + q]
            w_off[nw] = used
            w_len[nw] = L
            w_bucket[nw] = sha256_mod(msg, L, B, W, H)
            jj = np.int64(j) * 2
            slots[jj] = h
            slots[jj + 1] = np.uint64(nw + 1)
            found = nw
            nw += 1
            used += L
        out[i] = found
        i += 1
    meta[0] = nw
    meta[1] = used
    return i


@njit(cache=True)
def rehash_unigrams(slots, new_slots):
    """Move the (hash, id + 1) pairs of ``slots`` into the empty, larger ``new_slots``."""
    mask = np.uint64(new_slots.size // 2 - 1)
    for j in range(slots.size // 2):
        v = slots[2 * j + 1]
        if v != 0:
            h = slots[2 * j]
            k = h & mask
            while new_slots[np.int64(k) * 2 + 1] != 0:
                k = (k + np.uint64(1)) & mask
            new_slots[np.int64(k) * 2] = h
            new_slots[np.int64(k) * 2 + 1] = v


@njit(cache=True)
def bigram_buckets(ids, n_tok, lo_doc, pos, out, B, slots, meta, arena, w_off, w_len):
    """Bucket of each within-document bigram (ids[i], ids[i + 1]), documents from ``lo_doc`` on.

    ``pos`` = index in ``out`` of the first bigram of ``lo_doc``. Table: ``slots`` uint64[2·cap] =
    (key + 1, bucket) with key = a·2**32 + b; ``meta`` = [number of bigrams]. A new bigram's bucket is
    ``sha256 mod B`` of its two tokens (from :func:`unigram_ids`' arena) joined by a space. Returns
    (document reached, bigrams written); stops at a document whose bigrams could push the load above 1/2.
    """
    cap = slots.size // 2
    mask = np.uint64(cap - 1)
    shift = np.uint64(32)
    W = np.empty(64, dtype=np.uint32)
    H = np.empty(8, dtype=np.uint32)
    msg = np.empty(256, dtype=np.uint8)
    nb = meta[0]
    start = 0
    for d in range(lo_doc):
        start += n_tok[d]
    k = pos
    d = lo_doc
    while d < n_tok.size:
        m = n_tok[d]
        if m > 1 and 2 * (nb + m - 1) > cap:
            break
        for t in range(start, start + m - 1):
            a = ids[t]
            b = ids[t + 1]
            key = (np.uint64(a) << shift) | np.uint64(b)
            kk = key + np.uint64(1)
            j = (mul_xorshift(key) >> np.uint64(16)) & mask
            while True:
                jj = np.int64(j) * 2
                v = slots[jj]
                if v == kk:
                    out[k] = np.int64(slots[jj + 1])
                    break
                if v == 0:
                    la = w_len[a]
                    lb = w_len[b]
                    L = la + 1 + lb
                    if msg.size < L + 72:
                        msg = np.empty(2 * L + 72, dtype=np.uint8)
                    oa = w_off[a]
                    for q in range(la):
                        msg[q] = arena[oa + q]
                    msg[la] = 32
                    ob = w_off[b]
                    for q in range(lb):
                        msg[la + 1 + q] = arena[ob + q]
                    bk = sha256_mod(msg, L, B, W, H)
                    slots[jj] = kk
                    slots[jj + 1] = np.uint64(bk)
                    nb += 1
                    out[k] = bk
                    break
                j = (j + np.uint64(1)) & mask
            k += 1
        start += m
        d += 1
    meta[0] = nb
    return d, k


@njit(cache=True)
def rehash_bigrams(slots, new_slots):
    """Move the (key + 1, bucket) pairs of ``slots`` into the empty, larger ``new_slots``."""
    mask = np.uint64(new_slots.size // 2 - 1)
    for j in range(slots.size // 2):
        kk = slots[2 * j]
        if kk != 0:
            k = (mul_xorshift(kk - np.uint64(1)) >> np.uint64(16)) & mask
            while new_slots[np.int64(k) * 2] != 0:
                k = (k + np.uint64(1)) & mask
            new_slots[np.int64(k) * 2] = kk
            new_slots[np.int64(k) * 2 + 1] = slots[2 * j + 1]
