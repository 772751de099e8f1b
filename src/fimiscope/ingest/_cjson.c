/* A schema-driven JSON Lines reader that fills Arrow buffers: fimiscope.ingest._cjson.
 *
 * parse(schema, block) reads a block of JSON Lines (one object per line, blank lines
 * skipped) against a fixed schema and returns, for every schema node in pre-order, the
 * buffers of its Arrow array: (length, validity bitmap, offsets, values). Only the fields
 * of the schema are kept; every other value is checked and skipped.
 *
 * The schema is nested tuples: ("struct", ((name, node), ...)), ("list", node),
 * ("string",), ("int64",) or ("bool",).
 *
 * It is strict, and says no rather than guess: invalid JSON or UTF-8, a lone surrogate, a
 * \u0000, a value of another type than the schema's (a number where a string belongs, a
 * fraction or exponent for an int64, an integer out of range), a key given twice in one
 * object, a line holding anything but one object: each raises ValueError naming the byte
 * offset, and the caller reads the block another way. The GIL is released while parsing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { T_STRUCT, T_LIST, T_STRING, T_INT64, T_BOOL };
#define MAX_CHILDREN 64
#define MAX_DEPTH 256

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

typedef struct node {
    int type;
    int n_children;
    struct node **children; /* struct */
    char **names;
    size_t *name_lens;
    struct node *child; /* list */
    buf_t validity;     /* bitmap */
    buf_t offsets;      /* int32: string, list */
    buf_t values;       /* string bytes, int64, bool bitmap */
    int64_t length;
} node_t;

typedef struct {
    const unsigned char *s, *end, *start;
    const char *err;
    size_t err_at;
    int oom;
    buf_t key;
} parser_t;

/* -- buffers ------------------------------------------------------------------------------ */
static int buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static inline int buf_put(buf_t *b, const void *data, size_t n) {
    if (buf_reserve(b, n)) return -1;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static inline int put_bit(buf_t *b, int64_t i, int bit) {
    if ((i & 7) == 0) {
        if (buf_reserve(b, 1)) return -1;
        b->p[b->len++] = 0;
    }
    if (bit) b->p[i >> 3] |= (char)(1u << (i & 7));
    return 0;
}

static inline int put_i32(buf_t *b, int64_t v) {
    int32_t x = (int32_t)v;
    return buf_put(b, &x, 4);
}

static inline int put_i64(buf_t *b, int64_t v) { return buf_put(b, &v, 8); }

/* -- schema ------------------------------------------------------------------------------- */
static void node_free(node_t *n) {
    if (!n) return;
    for (int i = 0; i < n->n_children; i++) {
        node_free(n->children[i]);
        free(n->names[i]);
    }
    free(n->children);
    free(n->names);
    free(n->name_lens);
    node_free(n->child);
    free(n->validity.p);
    free(n->offsets.p);
    free(n->values.p);
    free(n);
}

static node_t *node_new(PyObject *spec) {
    if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 1 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(spec, 0))) {
        PyErr_SetString(PyExc_TypeError, "schema node: a tuple starting with its kind");
        return NULL;
    }
    const char *kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(spec, 0));
    if (!kind) return NULL;
    node_t *n = calloc(1, sizeof(node_t));
    if (!n) return (node_t *)PyErr_NoMemory();
    if (!strcmp(kind, "string")) {
        n->type = T_STRING;
    } else if (!strcmp(kind, "int64")) {
        n->type = T_INT64;
    } else if (!strcmp(kind, "bool")) {
        n->type = T_BOOL;
    } else if (!strcmp(kind, "list") && PyTuple_GET_SIZE(spec) == 2) {
        n->type = T_LIST;
        n->child = node_new(PyTuple_GET_ITEM(spec, 1));
        if (!n->child) goto fail;
    } else if (!strcmp(kind, "struct") && PyTuple_GET_SIZE(spec) == 2 &&
               PyTuple_Check(PyTuple_GET_ITEM(spec, 1))) {
        PyObject *fields = PyTuple_GET_ITEM(spec, 1);
        Py_ssize_t k = PyTuple_GET_SIZE(fields);
        if (k > MAX_CHILDREN) {
            PyErr_SetString(PyExc_ValueError, "schema node: too many fields");
            goto fail;
        }
        n->type = T_STRUCT;
        n->children = calloc(k ? k : 1, sizeof(node_t *));
        n->names = calloc(k ? k : 1, sizeof(char *));
        n->name_lens = calloc(k ? k : 1, sizeof(size_t));
        if (!n->children || !n->names || !n->name_lens) {
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t i = 0; i < k; i++) {
            PyObject *f = PyTuple_GET_ITEM(fields, i);
            Py_ssize_t len;
            const char *name;
            if (!PyTuple_Check(f) || PyTuple_GET_SIZE(f) != 2 ||
                !(name = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(f, 0), &len))) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "schema field: (name, node)");
                goto fail;
            }
            n->names[i] = malloc(len + 1);
            if (!n->names[i]) {
                PyErr_NoMemory();
                goto fail;
            }
            memcpy(n->names[i], name, len + 1);
            n->name_lens[i] = (size_t)len;
            n->n_children = (int)i + 1;
            n->children[i] = node_new(PyTuple_GET_ITEM(f, 1));
            if (!n->children[i]) goto fail;
        }
    } else {
        PyErr_Format(PyExc_ValueError, "schema node: unknown kind %s", kind);
        goto fail;
    }
    if ((n->type == T_STRING || n->type == T_LIST) && put_i32(&n->offsets, 0)) {
        PyErr_NoMemory();
        goto fail;
    }
    return n;
fail:
    node_free(n);
    return NULL;
}

/* -- parsing ------------------------------------------------------------------------------ */
#define FAIL(P, MSG)                                          \
    do {                                                      \
        if (!(P)->err) {                                      \
            (P)->err = (MSG);                                 \
            (P)->err_at = (size_t)((P)->s - (P)->start);      \
        }                                                     \
        return -1;                                            \
    } while (0)
#define OOM(P)               \
    do {                     \
        (P)->oom = 1;        \
        FAIL(P, "no memory"); \
    } while (0)

static inline void ws(parser_t *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static int append_null(parser_t *p, node_t *n) {
    if (put_bit(&n->validity, n->length, 0)) OOM(p);
    switch (n->type) {
    case T_STRING:
        if (put_i32(&n->offsets, (int64_t)n->values.len)) OOM(p);
        break;
    case T_INT64:
        if (put_i64(&n->values, 0)) OOM(p);
        break;
    case T_BOOL:
        if (put_bit(&n->values, n->length, 0)) OOM(p);
        break;
    case T_LIST:
        if (put_i32(&n->offsets, n->child->length)) OOM(p);
        break;
    case T_STRUCT:
        for (int i = 0; i < n->n_children; i++)
            if (append_null(p, n->children[i])) return -1;
        break;
    }
    n->length++;
    return 0;
}

static inline int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int hex4(parser_t *p, uint32_t *out) {
    if (p->end - p->s < 4) FAIL(p, "short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p->s[i]);
        if (h < 0) FAIL(p, "bad \\u escape");
        v = (v << 4) | (uint32_t)h;
    }
    p->s += 4;
    *out = v;
    return 0;
}

/* One UTF-8 sequence starting at p->s (a byte >= 0x80): its length, or -1. */
static inline int utf8_seq(const unsigned char *s, const unsigned char *end) {
    unsigned char c = s[0];
    if (c >= 0xC2 && c <= 0xDF) {
        if (end - s < 2 || (s[1] & 0xC0) != 0x80) return -1;
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - s < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return -1;
        if (c == 0xE0 && s[1] < 0xA0) return -1; /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return -1; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - s < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
            (s[3] & 0xC0) != 0x80)
            return -1;
        if (c == 0xF0 && s[1] < 0x90) return -1; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return -1; /* > U+10FFFF */
        return 4;
    }
    return -1;
}

/* A string (p->s just after the opening quote) appended to `out`, or only checked (NULL). */
static int read_string(parser_t *p, buf_t *out) {
    for (;;) {
        const unsigned char *run = p->s;
        while (p->s < p->end) {
            unsigned char c = *p->s;
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
            p->s++;
        }
        if (out && p->s > run && buf_put(out, run, (size_t)(p->s - run))) OOM(p);
        if (p->s >= p->end) FAIL(p, "unterminated string");
        unsigned char c = *p->s;
        if (c == '"') {
            p->s++;
            return 0;
        }
        if (c < 0x20) FAIL(p, "control character in a string");
        if (c >= 0x80) {
            int k = utf8_seq(p->s, p->end);
            if (k < 0) FAIL(p, "invalid UTF-8");
            if (out && buf_put(out, p->s, (size_t)k)) OOM(p);
            p->s += k;
            continue;
        }
        /* an escape */
        p->s++;
        if (p->s >= p->end) FAIL(p, "unterminated escape");
        char e = (char)*p->s++;
        char one;
        switch (e) {
        case '"': one = '"'; break;
        case '\\': one = '\\'; break;
        case '/': one = '/'; break;
        case 'b': one = '\b'; break;
        case 'f': one = '\f'; break;
        case 'n': one = '\n'; break;
        case 'r': one = '\r'; break;
        case 't': one = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (hex4(p, &cp)) return -1;
            if (cp == 0) FAIL(p, "\\u0000");
            if (cp >= 0xDC00 && cp <= 0xDFFF) FAIL(p, "lone low surrogate");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (p->end - p->s < 2 || p->s[0] != '\\' || p->s[1] != 'u')
                    FAIL(p, "lone high surrogate");
                p->s += 2;
                if (hex4(p, &lo)) return -1;
                if (lo < 0xDC00 || lo > 0xDFFF) FAIL(p, "lone high surrogate");
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (out) {
                unsigned char u[4];
                size_t k;
                if (cp < 0x80) {
                    u[0] = (unsigned char)cp;
                    k = 1;
                } else if (cp < 0x800) {
                    u[0] = (unsigned char)(0xC0 | (cp >> 6));
                    u[1] = (unsigned char)(0x80 | (cp & 0x3F));
                    k = 2;
                } else if (cp < 0x10000) {
                    u[0] = (unsigned char)(0xE0 | (cp >> 12));
                    u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                    u[2] = (unsigned char)(0x80 | (cp & 0x3F));
                    k = 3;
                } else {
                    u[0] = (unsigned char)(0xF0 | (cp >> 18));
                    u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
                    u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
                    u[3] = (unsigned char)(0x80 | (cp & 0x3F));
                    k = 4;
                }
                if (buf_put(out, u, k)) OOM(p);
            }
            continue;
        }
        default:
            FAIL(p, "bad escape");
        }
        if (out && buf_put(out, &one, 1)) OOM(p);
    }
}

static int literal(parser_t *p, const char *word, size_t n) {
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n)) FAIL(p, "bad literal");
    p->s += n;
    return 0;
}

/* A JSON number, checked; if `out` is given it must be an integer that fits int64. */
static int read_number(parser_t *p, int64_t *out) {
    const unsigned char *s = p->s;
    int neg = 0;
    if (s < p->end && *s == '-') {
        neg = 1;
        s++;
    }
    if (s >= p->end || *s < '0' || *s > '9') FAIL(p, "bad number");
    uint64_t v = 0;
    int overflow = 0;
    if (*s == '0') {
        s++;
    } else {
        while (s < p->end && *s >= '0' && *s <= '9') {
            unsigned d = (unsigned)(*s - '0');
            if (v > (UINT64_MAX - d) / 10) overflow = 1;
            else v = v * 10 + d;
            s++;
        }
    }
    int integer = 1;
    if (s < p->end && *s == '.') {
        integer = 0;
        s++;
        if (s >= p->end || *s < '0' || *s > '9') FAIL(p, "bad number");
        while (s < p->end && *s >= '0' && *s <= '9') s++;
    }
    if (s < p->end && (*s == 'e' || *s == 'E')) {
        integer = 0;
        s++;
        if (s < p->end && (*s == '+' || *s == '-')) s++;
        if (s >= p->end || *s < '0' || *s > '9') FAIL(p, "bad number");
        while (s < p->end && *s >= '0' && *s <= '9') s++;
    }
    p->s = s;
    if (out) {
        if (!integer) FAIL(p, "not an integer");
        if (overflow || (!neg && v > (uint64_t)INT64_MAX) ||
            (neg && v > (uint64_t)INT64_MAX + 1))
            FAIL(p, "integer out of range");
        *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    }
    return 0;
}

static int skip_value(parser_t *p, int depth);

static int skip_container(parser_t *p, int depth, unsigned char close) {
    if (depth > MAX_DEPTH) FAIL(p, "nested too deep");
    p->s++;
    ws(p);
    if (p->s < p->end && *p->s == close) {
        p->s++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            if (p->s >= p->end || *p->s != '"') FAIL(p, "expected a key");
            p->s++;
            if (read_string(p, NULL)) return -1;
            ws(p);
            if (p->s >= p->end || *p->s != ':') FAIL(p, "expected ':'");
            p->s++;
            ws(p);
        }
        if (skip_value(p, depth + 1)) return -1;
        ws(p);
        if (p->s >= p->end) FAIL(p, "unterminated");
        if (*p->s == ',') {
            p->s++;
            ws(p);
            continue;
        }
        if (*p->s == close) {
            p->s++;
            return 0;
        }
        FAIL(p, "expected ',' or a closing bracket");
    }
}

static int skip_value(parser_t *p, int depth) {
    if (p->s >= p->end) FAIL(p, "expected a value");
    switch (*p->s) {
    case '{': return skip_container(p, depth, '}');
    case '[': return skip_container(p, depth, ']');
    case '"': p->s++; return read_string(p, NULL);
    case 't': return literal(p, "true", 4);
    case 'f': return literal(p, "false", 5);
    case 'n': return literal(p, "null", 4);
    default: return read_number(p, NULL);
    }
}

static int parse_value(parser_t *p, node_t *n, int depth);

static int parse_struct(parser_t *p, node_t *n, int depth) {
    if (depth > MAX_DEPTH) FAIL(p, "nested too deep");
    if (p->s >= p->end || *p->s != '{') FAIL(p, "expected an object");
    p->s++;
    uint64_t seen = 0;
    ws(p);
    if (p->s < p->end && *p->s == '}') {
        p->s++;
    } else {
        for (;;) {
            if (p->s >= p->end || *p->s != '"') FAIL(p, "expected a key");
            p->s++;
            p->key.len = 0;
            if (read_string(p, &p->key)) return -1;
            ws(p);
            if (p->s >= p->end || *p->s != ':') FAIL(p, "expected ':'");
            p->s++;
            ws(p);
            int hit = -1;
            for (int i = 0; i < n->n_children; i++) {
                if (n->name_lens[i] == p->key.len &&
                    !memcmp(n->names[i], p->key.p, p->key.len)) {
                    hit = i;
                    break;
                }
            }
            if (hit >= 0) {
                if (seen & (1ull << hit)) FAIL(p, "a key given twice");
                seen |= 1ull << hit;
                if (parse_value(p, n->children[hit], depth + 1)) return -1;
            } else if (skip_value(p, depth + 1)) {
                return -1;
            }
            ws(p);
            if (p->s >= p->end) FAIL(p, "unterminated object");
            if (*p->s == ',') {
                p->s++;
                ws(p);
                continue;
            }
            if (*p->s == '}') {
                p->s++;
                break;
            }
            FAIL(p, "expected ',' or '}'");
        }
    }
    for (int i = 0; i < n->n_children; i++)
        if (!(seen & (1ull << i)) && append_null(p, n->children[i])) return -1;
    if (put_bit(&n->validity, n->length, 1)) OOM(p);
    n->length++;
    return 0;
}

static int parse_value(parser_t *p, node_t *n, int depth) {
    if (p->s >= p->end) FAIL(p, "expected a value");
    unsigned char c = *p->s;
    if (c == 'n') {
        if (literal(p, "null", 4)) return -1;
        return append_null(p, n);
    }
    switch (n->type) {
    case T_STRUCT:
        return parse_struct(p, n, depth);
    case T_LIST: {
        if (c != '[') FAIL(p, "expected an array");
        if (depth > MAX_DEPTH) FAIL(p, "nested too deep");
        p->s++;
        ws(p);
        if (p->s < p->end && *p->s == ']') {
            p->s++;
        } else {
            for (;;) {
                if (parse_value(p, n->child, depth + 1)) return -1;
                ws(p);
                if (p->s >= p->end) FAIL(p, "unterminated array");
                if (*p->s == ',') {
                    p->s++;
                    ws(p);
                    continue;
                }
                if (*p->s == ']') {
                    p->s++;
                    break;
                }
                FAIL(p, "expected ',' or ']'");
            }
        }
        if (put_i32(&n->offsets, n->child->length)) OOM(p);
        break;
    }
    case T_STRING:
        if (c != '"') FAIL(p, "expected a string");
        p->s++;
        if (read_string(p, &n->values)) return -1;
        if (n->values.len > (size_t)INT32_MAX) FAIL(p, "block too large");
        if (put_i32(&n->offsets, (int64_t)n->values.len)) OOM(p);
        break;
    case T_INT64: {
        if (c != '-' && (c < '0' || c > '9')) FAIL(p, "expected an integer");
        int64_t v;
        if (read_number(p, &v)) return -1;
        if (put_i64(&n->values, v)) OOM(p);
        break;
    }
    case T_BOOL:
        if (c == 't') {
            if (literal(p, "true", 4)) return -1;
            if (put_bit(&n->values, n->length, 1)) OOM(p);
        } else if (c == 'f') {
            if (literal(p, "false", 5)) return -1;
            if (put_bit(&n->values, n->length, 0)) OOM(p);
        } else {
            FAIL(p, "expected a boolean");
        }
        break;
    }
    if (put_bit(&n->validity, n->length, 1)) OOM(p);
    n->length++;
    return 0;
}

static int parse_lines(parser_t *p, node_t *root) {
    for (;;) {
        ws(p);
        if (p->s >= p->end) return 0;
        if (parse_struct(p, root, 0)) return -1;
        while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\r')) p->s++;
        if (p->s < p->end && *p->s != '\n') FAIL(p, "more than one value on a line");
    }
}

/* -- results ------------------------------------------------------------------------------ */
static PyObject *as_bytes(buf_t *b) {
    return PyBytes_FromStringAndSize(b->p ? b->p : "", (Py_ssize_t)b->len);
}

static int collect(node_t *n, PyObject *out) {
    PyObject *offsets = Py_None, *values = Py_None;
    Py_INCREF(Py_None);
    Py_INCREF(Py_None);
    if (n->type == T_STRING || n->type == T_LIST) {
        Py_DECREF(offsets);
        if (!(offsets = as_bytes(&n->offsets))) goto fail;
    }
    if (n->type == T_STRING || n->type == T_INT64 || n->type == T_BOOL) {
        Py_DECREF(values);
        if (!(values = as_bytes(&n->values))) goto fail;
    }
    PyObject *validity = as_bytes(&n->validity);
    if (!validity) goto fail;
    PyObject *item = Py_BuildValue("(LNNN)", (long long)n->length, validity, offsets, values);
    if (!item) return -1;
    int rc = PyList_Append(out, item);
    Py_DECREF(item);
    if (rc) return -1;
    if (n->type == T_LIST) return collect(n->child, out);
    for (int i = 0; i < n->n_children; i++)
        if (collect(n->children[i], out)) return -1;
    return 0;
fail:
    Py_XDECREF(offsets);
    Py_XDECREF(values);
    return -1;
}

static PyObject *cjson_parse(PyObject *self, PyObject *args) {
    PyObject *spec;
    Py_buffer block;
    if (!PyArg_ParseTuple(args, "Oy*", &spec, &block)) return NULL;
    node_t *root = node_new(spec);
    if (!root) {
        PyBuffer_Release(&block);
        return NULL;
    }
    if (root->type != T_STRUCT) {
        node_free(root);
        PyBuffer_Release(&block);
        PyErr_SetString(PyExc_ValueError, "the schema's root must be a struct");
        return NULL;
    }
    parser_t p = {0};
    p.start = p.s = (const unsigned char *)block.buf;
    p.end = p.s + block.len;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = parse_lines(&p, root);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&block);
    free(p.key.p);
    PyObject *out = NULL;
    if (rc) {
        if (p.oom)
            PyErr_NoMemory();
        else
            PyErr_Format(PyExc_ValueError, "%s at byte %zu", p.err, p.err_at);
    } else if ((out = PyList_New(0)) && collect(root, out)) {
        Py_CLEAR(out);
    }
    node_free(root);
    return out;
}

static PyMethodDef methods[] = {
    {"parse", cjson_parse, METH_VARARGS,
     "parse(schema, block) -> [(length, validity, offsets, values)] per schema node"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cjson",
                                    "Schema-driven JSON Lines to Arrow buffers.", -1, methods};

PyMODINIT_FUNC PyInit__cjson(void) { return PyModule_Create(&module); }
