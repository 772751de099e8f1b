/* The pair kernel of fimiscope.coordination._kernel in C (plain CPython API, buffer protocol).
 *
 * Same steps and same rows as the numba functions of _kernel.py; see that module for the
 * algorithm. Every function takes contiguous buffers (numpy arrays of int64, or uint8 for
 * masks), checks their lengths, checks every value it uses as an index before it uses it
 * (bad input raises ValueError, never reads or writes out of bounds), refuses an output
 * buffer that overlaps another one, and releases the GIL while it loops, so that a pool of
 * Python threads runs kernel chunks in parallel. Built by setup.py (optional: without a C
 * compiler fimiscope uses numba or SQL); ABI below is checked by _kernel.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int64_t i64;

#define TILE 256 /* partners gathered at a time by the kernel */


/* ---- helpers ------------------------------------------------------------------------- */

static int check_len(Py_buffer *b, Py_ssize_t n, Py_ssize_t item, const char *name)
{
    if (b->len != n * item) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd bytes, got %zd", name, n * item,
                     b->len);
        return -1;
    }
    return 0;
}

static Py_ssize_t n_items(Py_buffer *b, const char *name)
{
    if (b->len % 8) {
        PyErr_Format(PyExc_ValueError, "%s: not an int64 buffer", name);
        return -1;
    }
    return b->len / 8;
}

/* the first n_out buffers are written: none of them may overlap any other buffer (a sort
   or a compaction reading what it has just overwritten could index out of bounds) */
static int disjoint(Py_buffer **bufs, int n_out, int k)
{
    for (int i = 0; i < n_out; i++) {
        const char *a = bufs[i]->buf;
        for (int j = 0; j < k; j++) {
            const char *b = bufs[j]->buf;
            if (j == i || bufs[i]->len == 0 || bufs[j]->len == 0)
                continue;
            if (a < b + bufs[j]->len && b < a + bufs[i]->len) {
                PyErr_SetString(PyExc_ValueError, "an output buffer overlaps another buffer");
                return -1;
            }
        }
    }
    return 0;
}

static void release(Py_buffer **bufs, int k)
{
    for (int i = 0; i < k; i++)
        if (bufs[i]->obj != NULL)
            PyBuffer_Release(bufs[i]);
}

/* ---- sort_actions -------------------------------------------------------------------- */

typedef struct {
    i64 us;
    i64 aid;
} key_t2;

static inline int key_lt(const key_t2 *x, const key_t2 *y)
{
    return x->us < y->us || (x->us == y->us && x->aid < y->aid);
}

static void insertion(key_t2 *v, i64 m)
{
    for (i64 i = 1; i < m; i++) {
        key_t2 x = v[i];
        i64 j = i - 1;
        while (j >= 0 && key_lt(&x, &v[j])) {
            v[j + 1] = v[j];
            j--;
        }
        v[j + 1] = x;
    }
}

/* bottom-up merge sort of v[0:m] (tmp: m slots); runs of 16 by insertion first */
static void merge_sort(key_t2 *v, key_t2 *tmp, i64 m)
{
    const i64 run = 16;
    for (i64 s = 0; s < m; s += run)
        insertion(v + s, (m - s < run) ? m - s : run);
    key_t2 *src = v, *dst = tmp;
    for (i64 width = run; width < m; width *= 2) {
        for (i64 lo = 0; lo < m; lo += 2 * width) {
            i64 mid = lo + width < m ? lo + width : m;
            i64 hi = lo + 2 * width < m ? lo + 2 * width : m;
            i64 p = lo, q = mid, o = lo;
            while (p < mid && q < hi)
                dst[o++] = key_lt(&src[q], &src[p]) ? src[q++] : src[p++];
            while (p < mid)
                dst[o++] = src[p++];
            while (q < hi)
                dst[o++] = src[q++];
        }
        key_t2 *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, (size_t)m * sizeof(key_t2));
}

PyDoc_STRVAR(sort_actions_doc,
             "sort_actions(aid, tid, us, n_tgt, timed, out_aid, out_tid, out_us)\n\n"
             "Write the actions sorted by (tid, us, aid) (timed) or by tid, stable (not "
             "timed): a counting sort on tid in [0, n_tgt), then a merge sort per target.");

static PyObject *sort_actions(PyObject *self, PyObject *args)
{
    Py_buffer b_aid = {0}, b_tid = {0}, b_us = {0}, o_aid = {0}, o_tid = {0}, o_us = {0};
    Py_buffer *all[] = {&o_aid, &o_tid, &o_us, &b_aid, &b_tid, &b_us};
    Py_ssize_t n_tgt;
    int timed;
    if (!PyArg_ParseTuple(args, "y*y*y*npw*w*w*", &b_aid, &b_tid, &b_us, &n_tgt, &timed, &o_aid,
                          &o_tid, &o_us))
        return NULL;
    PyObject *ret = NULL;
    Py_ssize_t n = n_items(&b_tid, "tid");
    if (n < 0 || check_len(&b_aid, n, 8, "aid") || check_len(&b_us, n, 8, "us") ||
        check_len(&o_aid, n, 8, "out_aid") || check_len(&o_tid, n, 8, "out_tid") ||
        check_len(&o_us, n, 8, "out_us") || disjoint(all, 3, 6))
        goto done;
    if (n_tgt < 0) {
        PyErr_SetString(PyExc_ValueError, "n_tgt < 0");
        goto done;
    }
    const i64 *aid = b_aid.buf, *tid = b_tid.buf, *us = b_us.buf;
    i64 *oa = o_aid.buf, *ot = o_tid.buf, *ou = o_us.buf;
    i64 *pos = calloc((size_t)n_tgt + 1, sizeof(i64));
    if (pos == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int bad = 0, nomem = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        i64 t = tid[i];
        if (t < 0 || t >= n_tgt) {
            bad = 1;
            break;
        }
        pos[t + 1]++;
    }
    if (!bad) {
        for (Py_ssize_t t = 0; t < n_tgt; t++)
            pos[t + 1] += pos[t];
        for (Py_ssize_t i = 0; i < n; i++) {
            i64 d = pos[tid[i]]++;
            oa[d] = aid[i];
            ot[d] = tid[i];
            ou[d] = us[i];
        }
        /* pos[t] is now the end of block t */
        if (timed) {
            i64 big = 0, lo = 0;
            for (Py_ssize_t t = 0; t < n_tgt; t++) {
                if (pos[t] - lo > big)
                    big = pos[t] - lo;
                lo = pos[t];
            }
            key_t2 *v = malloc((size_t)(big > 0 ? big : 1) * 2 * sizeof(key_t2));
            if (v == NULL) {
                nomem = 1;
            }
            else {
                lo = 0;
                for (Py_ssize_t t = 0; t < n_tgt; t++) {
                    i64 hi = pos[t], m = hi - lo;
                    if (m > 1) {
                        for (i64 k = 0; k < m; k++) {
                            v[k].us = ou[lo + k];
                            v[k].aid = oa[lo + k];
                        }
                        if (m <= 16)
                            insertion(v, m);
                        else
                            merge_sort(v, v + big, m);
                        for (i64 k = 0; k < m; k++) {
                            ou[lo + k] = v[k].us;
                            oa[lo + k] = v[k].aid;
                        }
                    }
                    lo = hi;
                }
                free(v);
            }
        }
    }
    Py_END_ALLOW_THREADS
    free(pos);
    if (bad)
        PyErr_SetString(PyExc_ValueError, "tid out of [0, n_tgt)");
    else if (nomem)
        PyErr_NoMemory();
    else
        ret = Py_NewRef(Py_None);
done:
    release(all, 6);
    return ret;
}

/* ---- activity ------------------------------------------------------------------------ */

/* keep[i] = 1 when account aid[i] has at least `need` distinct targets; actions sorted by
   tid (so each account meets its targets in non-decreasing order). Returns kept count or -1
   (bad aid), -2 (no memory). */
static i64 mark_active(const i64 *aid, const i64 *tid, const uint8_t *ok, i64 n, i64 n_acc,
                       i64 need, uint8_t *keep)
{
    i64 *cnt = calloc((size_t)n_acc + 1, sizeof(i64));
    i64 *last = malloc(((size_t)n_acc + 1) * sizeof(i64));
    if (cnt == NULL || last == NULL) {
        free(cnt);
        free(last);
        return -2;
    }
    for (i64 a = 0; a < n_acc; a++)
        last[a] = -1;
    for (i64 i = 0; i < n; i++) {
        i64 a = aid[i];
        if (a < 0 || a >= n_acc) {
            free(cnt);
            free(last);
            return -1;
        }
        if (ok != NULL && !ok[i])
            continue;
        if (last[a] != tid[i]) {
            last[a] = tid[i];
            cnt[a]++;
        }
    }
    i64 kept = 0;
    for (i64 i = 0; i < n; i++) {
        keep[i] = (ok == NULL || ok[i]) && cnt[aid[i]] >= need;
        kept += keep[i];
    }
    free(cnt);
    free(last);
    return kept;
}

static i64 compact(i64 *aid, i64 *tid, i64 *us, const uint8_t *keep, i64 n)
{
    i64 o = 0;
    for (i64 i = 0; i < n; i++) {
        if (keep[i]) {
            aid[o] = aid[i];
            tid[o] = tid[i];
            us[o] = us[i];
            o++;
        }
    }
    return o;
}

PyDoc_STRVAR(activity_doc,
             "activity(aid, tid, us, n_acc, min_activity) -> n\n\n"
             "Drop (compacting the three arrays in place, order kept) the actions of accounts "
             "with fewer than min_activity distinct targets; actions sorted by tid.");

static PyObject *activity(PyObject *self, PyObject *args)
{
    Py_buffer b_aid = {0}, b_tid = {0}, b_us = {0};
    Py_buffer *all[] = {&b_aid, &b_tid, &b_us};
    Py_ssize_t n_acc, need;
    if (!PyArg_ParseTuple(args, "w*w*w*nn", &b_aid, &b_tid, &b_us, &n_acc, &need))
        return NULL;
    PyObject *ret = NULL;
    Py_ssize_t n = n_items(&b_aid, "aid");
    if (n < 0 || check_len(&b_tid, n, 8, "tid") || check_len(&b_us, n, 8, "us") ||
        disjoint(all, 3, 3))
        goto done;
    if (n_acc < 0) {
        PyErr_SetString(PyExc_ValueError, "n_acc < 0");
        goto done;
    }
    uint8_t *keep = malloc((size_t)n + 1);
    if (keep == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    i64 kept;
    Py_BEGIN_ALLOW_THREADS
    kept = mark_active(b_aid.buf, b_tid.buf, NULL, n, n_acc, need, keep);
    if (kept >= 0 && kept < n)
        kept = compact(b_aid.buf, b_tid.buf, b_us.buf, keep, n);
    Py_END_ALLOW_THREADS
    free(keep);
    if (kept == -1)
        PyErr_SetString(PyExc_ValueError, "aid out of [0, n_acc)");
    else if (kept == -2)
        PyErr_NoMemory();
    else
        ret = PyLong_FromLongLong(kept);
done:
    release(all, 3);
    return ret;
}

/* ---- crowd cells --------------------------------------------------------------------- */

PyDoc_STRVAR(crowd_doc,
             "crowd(tid, us, timed, width, max_cell, mask) -> n\n\n"
             "mask[i] = 1 for the actions of cells (tid, us / width truncated; tid alone when "
             "not timed) holding more than max_cell actions (sorted by tid, us); returns how "
             "many.");

static PyObject *crowd(PyObject *self, PyObject *args)
{
    Py_buffer b_tid = {0}, b_us = {0}, b_mask = {0};
    Py_buffer *all[] = {&b_mask, &b_tid, &b_us};
    int timed;
    Py_ssize_t width, max_cell;
    if (!PyArg_ParseTuple(args, "y*y*pnnw*", &b_tid, &b_us, &timed, &width, &max_cell, &b_mask))
        return NULL;
    PyObject *ret = NULL;
    Py_ssize_t n = n_items(&b_tid, "tid");
    if (n < 0 || check_len(&b_us, n, 8, "us") || check_len(&b_mask, n, 1, "mask") ||
        disjoint(all, 1, 3))
        goto done;
    if (width < 1) {
        PyErr_SetString(PyExc_ValueError, "width < 1");
        goto done;
    }
    const i64 *tid = b_tid.buf, *us = b_us.buf;
    uint8_t *mask = b_mask.buf;
    i64 total = 0;
    Py_BEGIN_ALLOW_THREADS
    i64 lo = 0;
    while (lo < n) {
        i64 t = tid[lo], bk = timed ? us[lo] / width : 0, hi = lo + 1;
        /* C division truncates, as DuckDB's integer // does */
        while (hi < n && tid[hi] == t && (!timed || us[hi] / width == bk))
            hi++;
        uint8_t c = (hi - lo) > max_cell;
        memset(mask + lo, c, (size_t)(hi - lo));
        if (c)
            total += hi - lo;
        lo = hi;
    }
    Py_END_ALLOW_THREADS
    ret = PyLong_FromLongLong(total);
done:
    release(all, 3);
    return ret;
}

/* ---- ranges and prefilter ------------------------------------------------------------ */

static void ranges_c(const i64 *tid, const i64 *us, i64 n, i64 w, i64 *j0, i64 *j1)
{
    i64 lo = 0;
    while (lo < n) {
        i64 hi = lo + 1;
        while (hi < n && tid[hi] == tid[lo])
            hi++;
        i64 p = lo, q = lo;
        for (i64 i = lo; i < hi; i++) {
            i64 v = us[i] - w;
            while (us[p] < v)
                p++;
            v = us[i] + w;
            if (q <= i)
                q = i + 1;
            while (q < hi && us[q] <= v)
                q++;
            j0[i] = p;
            j1[i] = q;
        }
        lo = hi;
    }
}

/* ok[i] = the range of action i holds an action of another account: the first action of the
   range is another account's, or the run of equal accounts starting there ends inside the
   range (O(1) per action, however often one account repeats itself). */
static void near_other(const i64 *aid, const i64 *j0, const i64 *j1, i64 n, i64 *run,
                       uint8_t *ok)
{
    if (n > 0)
        run[n - 1] = n;
    for (i64 j = n - 2; j >= 0; j--)
        run[j] = aid[j + 1] == aid[j] ? run[j + 1] : j + 1;
    for (i64 i = 0; i < n; i++)
        ok[i] = aid[j0[i]] != aid[i] || run[j0[i]] < j1[i];
}

PyDoc_STRVAR(prune_doc,
             "prune(aid, tid, us, n_acc, w, min_repetitions, j0, j1, rounds) -> n\n\n"
             "Exact prefilter (rounds times): keep an action whose partner range holds another "
             "account, then only the actions of accounts with at least min_repetitions targets "
             "holding such actions. Compacts aid, tid, us in place (sorted by tid, us) and "
             "writes the partner ranges [j0, j1) of the n kept actions.");

static PyObject *prune(PyObject *self, PyObject *args)
{
    Py_buffer b_aid = {0}, b_tid = {0}, b_us = {0}, b_j0 = {0}, b_j1 = {0};
    Py_buffer *all[] = {&b_aid, &b_tid, &b_us, &b_j0, &b_j1};
    Py_ssize_t n_acc, w, mr;
    int rounds;
    if (!PyArg_ParseTuple(args, "w*w*w*nnnw*w*i", &b_aid, &b_tid, &b_us, &n_acc, &w, &mr, &b_j0,
                          &b_j1, &rounds))
        return NULL;
    PyObject *ret = NULL;
    Py_ssize_t n = n_items(&b_aid, "aid");
    if (n < 0 || check_len(&b_tid, n, 8, "tid") || check_len(&b_us, n, 8, "us") ||
        check_len(&b_j0, n, 8, "j0") || check_len(&b_j1, n, 8, "j1") || disjoint(all, 5, 5))
        goto done;
    if (n_acc < 0 || w < 0) {
        PyErr_SetString(PyExc_ValueError, "n_acc < 0 or w < 0");
        goto done;
    }
    i64 *aid = b_aid.buf, *tid = b_tid.buf, *us = b_us.buf, *j0 = b_j0.buf, *j1 = b_j1.buf;
    uint8_t *ok = malloc((size_t)n + 1), *keep = malloc((size_t)n + 1);
    i64 *run = malloc(((size_t)n + 1) * sizeof(i64));
    i64 m = n;
    if (ok == NULL || keep == NULL || run == NULL) {
        m = -2;
    }
    else {
        Py_BEGIN_ALLOW_THREADS
        int stale = 1;
        for (int round = 0; round < rounds && m > 0; round++) {
            ranges_c(tid, us, m, w, j0, j1);
            stale = 0;
            near_other(aid, j0, j1, m, run, ok);
            i64 kept = mark_active(aid, tid, ok, m, n_acc, mr, keep);
            if (kept < 0) {
                m = kept;
                break;
            }
            if (kept == m)
                break;
            m = compact(aid, tid, us, keep, m);
            stale = 1;
        }
        if (m > 0 && stale)
            ranges_c(tid, us, m, w, j0, j1);
        Py_END_ALLOW_THREADS
    }
    free(ok);
    free(keep);
    free(run);
    if (m == -1)
        PyErr_SetString(PyExc_ValueError, "aid out of [0, n_acc)");
    else if (m == -2)
        PyErr_NoMemory();
    else
        ret = PyLong_FromLongLong(m);
done:
    release(all, 5);
    return ret;
}

/* ---- rows of each account ------------------------------------------------------------ */

PyDoc_STRVAR(account_rows_doc,
             "account_rows(aid, j0, j1, n_acc, start, rows, work)\n\n"
             "Counting sort by account (stable: each account's actions stay in (target, time) "
             "order): rows[start[a]:start[a+1]] are account a's actions; work[a+1] - work[a] "
             "its partner visits.");

static PyObject *account_rows(PyObject *self, PyObject *args)
{
    Py_buffer b_aid = {0}, b_j0 = {0}, b_j1 = {0}, b_st = {0}, b_rows = {0}, b_work = {0};
    Py_buffer *all[] = {&b_st, &b_rows, &b_work, &b_aid, &b_j0, &b_j1};
    Py_ssize_t n_acc;
    if (!PyArg_ParseTuple(args, "y*y*y*nw*w*w*", &b_aid, &b_j0, &b_j1, &n_acc, &b_st, &b_rows,
                          &b_work))
        return NULL;
    PyObject *ret = NULL;
    Py_ssize_t n = n_items(&b_aid, "aid");
    if (n < 0 || n_acc < 0 || check_len(&b_j0, n, 8, "j0") || check_len(&b_j1, n, 8, "j1") ||
        check_len(&b_rows, n, 8, "rows") || check_len(&b_st, n_acc + 1, 8, "start") ||
        check_len(&b_work, n_acc + 1, 8, "work") || disjoint(all, 3, 6))
        goto done;
    const i64 *aid = b_aid.buf, *j0 = b_j0.buf, *j1 = b_j1.buf;
    i64 *st = b_st.buf, *rows = b_rows.buf, *work = b_work.buf;
    int bad = 0;
    i64 *pos = malloc(((size_t)n_acc + 1) * sizeof(i64));
    if (pos == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    memset(st, 0, ((size_t)n_acc + 1) * sizeof(i64));
    memset(work, 0, ((size_t)n_acc + 1) * sizeof(i64));
    for (i64 i = 0; i < n; i++) {
        i64 a = aid[i];
        if (a < 0 || a >= n_acc) {
            bad = 1;
            break;
        }
        st[a + 1]++;
        work[a + 1] += j1[i] - j0[i];
    }
    if (!bad) {
        for (i64 a = 0; a < n_acc; a++) {
            st[a + 1] += st[a];
            work[a + 1] += work[a];
            pos[a] = st[a];
        }
        for (i64 i = 0; i < n; i++)
            rows[pos[aid[i]]++] = i;
    }
    Py_END_ALLOW_THREADS
    free(pos);
    if (bad)
        PyErr_SetString(PyExc_ValueError, "aid out of [0, n_acc)");
    else
        ret = Py_NewRef(Py_None);
done:
    release(all, 6);
    return ret;
}

/* ---- the kernel ---------------------------------------------------------------------- */

/* One partner b of the current account a: its running aggregates, appended to a list in the
   order of first visits. 98 % of the useful visits (1M reposts) are first visits of a pair,
   so the list is written sequentially and only the 4-byte slot of b in `where` is random. */
typedef struct {
    i64 b, first, last, gap, nc;
    int32_t nt, lt; /* distinct targets; last target seen, + 1 */
} partner_t;

PyDoc_STRVAR(kernel_doc,
             "kernel(a_lo, a_hi, start, rows, aid, tid, us, j0, j1, min_repetitions, n_acc, "
             "workspace) -> bytes\n\n"
             "Pairs (a, b), a_lo <= a < a_hi, a < b, with at least min_repetitions distinct "
             "targets: rows of 7 int64 (a, b, n_targets, n_coactions, first_us, last_us, "
             "gap_us), ordered by (a, b). One pass over each (action, partner). workspace: "
             "writable, at least (n_acc - a_lo + 1) * 4 bytes, any content (a sparse set: "
             "never needs clearing), reusable by the next call on the same thread.");

static PyObject *kernel(PyObject *self, PyObject *args)
{
    Py_buffer b_st = {0}, b_rows = {0}, b_aid = {0}, b_tid = {0}, b_us = {0}, b_j0 = {0},
              b_j1 = {0}, b_ws = {0};
    Py_buffer *all[] = {&b_ws, &b_st, &b_rows, &b_aid, &b_tid, &b_us, &b_j0, &b_j1};
    Py_ssize_t a_lo, a_hi, mr, n_acc;
    if (!PyArg_ParseTuple(args, "nny*y*y*y*y*y*y*nnw*", &a_lo, &a_hi, &b_st, &b_rows, &b_aid,
                          &b_tid, &b_us, &b_j0, &b_j1, &mr, &n_acc, &b_ws))
        return NULL;
    PyObject *ret = NULL;
    Py_ssize_t n = n_items(&b_aid, "aid");
    if (n < 0 || n_acc < 0 || check_len(&b_st, n_acc + 1, 8, "start") ||
        check_len(&b_rows, n, 8, "rows") || check_len(&b_tid, n, 8, "tid") ||
        check_len(&b_us, n, 8, "us") || check_len(&b_j0, n, 8, "j0") ||
        check_len(&b_j1, n, 8, "j1"))
        goto done;
    if (a_lo < 0 || a_hi < a_lo || a_hi > n_acc || n_acc >= INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "account range out of [0, n_acc]");
        goto done;
    }
    const i64 *st = b_st.buf, *rows = b_rows.buf, *aid = b_aid.buf, *tid = b_tid.buf,
              *us = b_us.buf, *j0 = b_j0.buf, *j1 = b_j1.buf;
    i64 span = n_acc - a_lo;
    if (b_ws.len < (Py_ssize_t)((span + 1) * sizeof(uint32_t))) {
        PyErr_SetString(PyExc_ValueError, "workspace too small");
        goto done;
    }
    if (disjoint(all, 1, 8))
        goto done;
    /* where[b - a_lo]: b's position in the list, valid only if it is below n_t and that
       entry is b's (a sparse set: stale or random content is harmless) */
    uint32_t *where = b_ws.buf;
    partner_t *list = malloc(((size_t)span + 1) * sizeof(partner_t));
    key_t2 *keep = malloc(((size_t)span + 1) * 2 * sizeof(key_t2));
    i64 cap = 4096, n_out = 0;
    i64 *out = malloc((size_t)cap * 7 * sizeof(i64));
    i64 tile_b[TILE], tile_u[TILE];
    int bad = 0, nomem = list == NULL || keep == NULL || out == NULL;
    if (!nomem) {
        Py_BEGIN_ALLOW_THREADS
        for (i64 a = a_lo; a < a_hi && !bad && !nomem; a++) {
            i64 r0 = st[a], r1 = st[a + 1];
            uint32_t n_t = 0;
            if (r0 < 0 || r1 < r0 || r1 > n) {
                bad = 1;
                break;
            }
            for (i64 r = r0; r < r1; r++) {
                i64 i = rows[r];
                if (i < 0 || i >= n || j0[i] < 0 || j1[i] > n || tid[i] < 0 ||
                    tid[i] >= INT32_MAX) {
                    bad = 1;
                    break;
                }
                int32_t t = (int32_t)tid[i] + 1;
                i64 ui = us[i], e = j1[i];
                for (i64 j_lo = j0[i]; j_lo < e && !bad; j_lo += TILE) {
                    /* gather the partners b > a of a tile without a branch (half the
                       partners are below a, in no order a predictor could guess) ... */
                    i64 j_hi = j_lo + TILE < e ? j_lo + TILE : e, k = 0;
                    for (i64 j = j_lo; j < j_hi; j++) {
                        i64 b = aid[j];
                        tile_b[k] = b;
                        tile_u[k] = us[j];
                        k += b > a;
                        bad |= b >= n_acc;
                    }
                    if (bad)
                        break;
                    /* ... then update their aggregates */
                    for (i64 x = 0; x < k; x++) {
                        i64 b = tile_b[x], uj = tile_u[x];
                        i64 f = ui < uj ? ui : uj;
                        i64 g = ui < uj ? uj - ui : ui - uj;
                        uint32_t w = where[b - a_lo];
                        if (w < n_t && list[w].b == b) {
                            partner_t *p = list + w;
                            p->nc++;
                            if (p->lt != t) {
                                p->lt = t;
                                p->nt++;
                            }
                            if (f < p->first)
                                p->first = f;
                            if (f > p->last)
                                p->last = f;
                            p->gap += g;
                        }
                        else {
                            partner_t *p = list + n_t;
                            where[b - a_lo] = n_t++;
                            p->b = b;
                            p->first = f;
                            p->last = f;
                            p->gap = g;
                            p->nc = 1;
                            p->nt = 1;
                            p->lt = t;
                        }
                    }
                }
                if (bad)
                    break;
            }
            /* the partners that reach min_repetitions, in b order */
            i64 n_k = 0;
            for (uint32_t x = 0; x < n_t; x++) {
                if (list[x].nt >= mr) {
                    keep[n_k].us = list[x].b;
                    keep[n_k].aid = x;
                    n_k++;
                }
            }
            if (n_k > 1) {
                if (n_k <= 16)
                    insertion(keep, n_k);
                else
                    merge_sort(keep, keep + n_k, n_k);
            }
            if (n_out + n_k > cap) {
                i64 c2 = 2 * cap > n_out + n_k ? 2 * cap : n_out + n_k;
                i64 *o2 = realloc(out, (size_t)c2 * 7 * sizeof(i64));
                if (o2 == NULL) {
                    nomem = 1;
                    break;
                }
                out = o2;
                cap = c2;
            }
            for (i64 x = 0; x < n_k; x++) {
                partner_t *p = list + keep[x].aid;
                i64 *o = out + 7 * n_out++;
                o[0] = a;
                o[1] = p->b;
                o[2] = p->nt;
                o[3] = p->nc;
                o[4] = p->first;
                o[5] = p->last;
                o[6] = p->gap;
            }
        }
        Py_END_ALLOW_THREADS
    }
    if (bad)
        PyErr_SetString(PyExc_ValueError, "kernel: index out of range in the input");
    else if (nomem)
        PyErr_NoMemory();
    else
        ret = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)(n_out * 7 * 8));
    free(list);
    free(keep);
    free(out);
done:
    release(all, 8);
    return ret;
}

/* ---- module -------------------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"sort_actions", sort_actions, METH_VARARGS, sort_actions_doc},
    {"activity", activity, METH_VARARGS, activity_doc},
    {"crowd", crowd, METH_VARARGS, crowd_doc},
    {"prune", prune, METH_VARARGS, prune_doc},
    {"account_rows", account_rows, METH_VARARGS, account_rows_doc},
    {"kernel", kernel, METH_VARARGS, kernel_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cpairs",
    "The pair kernel of fimiscope.coordination._kernel, in C.", -1, methods,
};

/* bumped whenever a signature changes: _kernel.py ignores a stale build of another ABI */
#define CPAIRS_ABI 1

PyMODINIT_FUNC PyInit__cpairs(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "ABI", CPAIRS_ABI) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
