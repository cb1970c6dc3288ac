/* The hot loop of splitter.decide in C, over the tables splitter.table builds.
 *
 * splitter/decide.py keeps the reference implementation (`decide_py`) and binds this one
 * with configure(); anything this code does not expect (a subclass of the table, more than
 * 64 rules, a weight total past 2**64, a non-float `u`, a now_ms past int64, keyword
 * arguments it does not know) is handed to the reference unchanged, so the two can only
 * differ in speed. The Python callbacks (folded spellings, hour-of-week misses, local
 * time, residual predicates) are the same methods the reference calls; they are caches or
 * pure, so running them twice when a call falls back midway is harmless.
 *
 * Fields of the frozen slots dataclasses are read at the offsets their member descriptors
 * give, found once in configure(): a getattr would cost more than the rest of a decision.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#if PY_VERSION_HEX < 0x030C0000
#include "structmember.h"
#define Py_T_OBJECT_EX T_OBJECT_EX
#endif

#ifndef SOURCE_SHA256
#define SOURCE_SHA256 "unknown"
#endif

#define QUARTER_MS 900000LL
#define FALLBACK 1 /* status: let the reference decide */
#define MAX_SECTIONS 16
/* Where a bytes vector keeps mask `i` (harmlessly wrong for a tuple one: prefetches
 * never fault). */
#define PREFETCH_MASK(vector, i) \
    __builtin_prefetch((char *)(vector) + offsetof(PyBytesObject, ob_sval) + (i))

static PyObject *reference;   /* splitter.decide.decide_py */
static PyTypeObject *table_type, *layout_type, *clock_type, *visitor_type;
static Py_ssize_t t_static, t_vector, t_layout, t_rules, t_residuals, t_clock;
static Py_ssize_t l_exact, l_folded, l_week, c_hours;
static struct { PyObject *name; Py_ssize_t offset; } fields[32];
static int field_count;
static PyObject *s_locate, *s_hour_of_week, *s_local_ms, *s_visitor_id, *arg_names[4];
static uint32_t crc_table[256];

#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

/* MurmurHash3's fmix64, as splitter.table.mix64: spreads the structured products of
   sequential ids' CRCs before their top bits pick the point. */
static inline uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDULL;
    x ^= x >> 33;
    x *= 0xC4CEB9FE1A85EC53ULL;
    return x ^ (x >> 33);
}

/* zlib's CRC-32 (reflected polynomial 0xEDB88320); zlib.crc32(data, seed) runs the
 * register from ~seed and inverts the result, so a seeded call chains like this. */
static uint32_t crc32_seeded(uint32_t seed, const unsigned char *data, Py_ssize_t size) {
    uint32_t crc = ~seed;
    for (Py_ssize_t i = 0; i < size; i++)
        crc = crc_table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static Py_ssize_t slot_offset(PyTypeObject *type, const char *name) {
    PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
    if (descr == NULL)
        return -1;
    Py_ssize_t offset = -1;
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
        ((PyMemberDescrObject *)descr)->d_member->type == Py_T_OBJECT_EX)
        offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    else
        PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot", type->tp_name, name);
    Py_DECREF(descr);
    return offset;
}

/* A visitor attribute (new reference). Layout names are interned identifiers, so a
 * pointer comparison finds the slot; anything else takes the generic path. */
static PyObject *visitor_get(PyObject *visitor, PyObject *name) {
    if (Py_IS_TYPE(visitor, visitor_type)) {
        for (int i = 0; i < field_count; i++) {
            if (fields[i].name == name) {
                PyObject *value = SLOT(visitor, fields[i].offset);
                if (value != NULL)
                    return Py_NewRef(value);
                break;
            }
        }
    }
    return PyObject_GetAttr(visitor, name);
}

/* A Python int that must fit 64 unsigned bits, else the reference decides. */
static int as_u64(PyObject *number, uint64_t *out) {
    *out = PyLong_AsUnsignedLongLong(number);
    if (*out == (uint64_t)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
        return FALLBACK;
    }
    return 0;
}

/* The mask at `index` of a bytes (up to 8 rules) or tuple-of-int vector, with Python's
 * indexing rules so both implementations fail alike on a corrupt table. A mask past 64
 * bits cannot occur: `static` would not have fitted. */
static int mask_at(PyObject *vector, Py_ssize_t index, uint64_t *out) {
    if (!PyBytes_CheckExact(vector) && !PyTuple_Check(vector))
        return FALLBACK;
    Py_ssize_t size = Py_SIZE(vector);
    if (index < 0)
        index += size;
    if (index < 0 || index >= size) {
        PyErr_SetString(PyExc_IndexError, "mask index out of range");
        return -1;
    }
    if (PyBytes_CheckExact(vector)) {
        *out = (unsigned char)PyBytes_AS_STRING(vector)[index];
        return 0;
    }
    return as_u64(PyTuple_GET_ITEM(vector, index), out);
}

static int as_index(PyObject *number, Py_ssize_t *out) {
    *out = PyLong_AsSsize_t(number);
    return *out == -1 && PyErr_Occurred() ? -1 : 0;
}

/* The low 96 bits of the rule key: multiplier << 32 | salt. */
static int key_parts(PyObject *key, uint32_t *salt, uint64_t *multiplier) {
    unsigned char bytes[16];
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t need = PyLong_AsNativeBytes(
        key, bytes, sizeof bytes,
        Py_ASNATIVEBYTES_LITTLE_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
            Py_ASNATIVEBYTES_REJECT_NEGATIVE);
    if (need < 0 || need > (Py_ssize_t)sizeof bytes) {
        PyErr_Clear();
        return FALLBACK;
    }
#else
    if (!PyLong_Check(key) ||
        _PyLong_AsByteArray((PyLongObject *)key, bytes, sizeof bytes, 1, 0) < 0) {
        PyErr_Clear();
        return FALLBACK;
    }
#endif
    *salt = 0;
    *multiplier = 0;
    for (int i = 3; i >= 0; i--)
        *salt = *salt << 8 | bytes[i];
    for (int i = 11; i >= 4; i--)
        *multiplier = *multiplier << 8 | bytes[i];
    return 0;
}

/* The chosen destination of one rule (new reference in *out). */
static int choose(PyObject *pick, PyObject *visitor, PyObject *u, PyObject **out) {
    Py_ssize_t k, size = PyTuple_GET_SIZE(pick);
    if (size < 5 || as_index(PyTuple_GET_ITEM(pick, 2), &k) < 0)
        goto corrupt;
    if (k < 1 || k > (size - 3) / 2)
        goto corrupt;
    if (k == 1) {
        *out = Py_NewRef(PyTuple_GET_ITEM(pick, 4));
        return 0;
    }
    for (Py_ssize_t i = 0; i < k; i++) /* fetched while the key is, not after the bisect */
        __builtin_prefetch(PyTuple_GET_ITEM(pick, 3 + k + i));
    uint64_t total, point, bound;
    int status = as_u64(PyTuple_GET_ITEM(pick, 1), &total);
    if (status != 0)
        return status;
    if (total == 0)
        return FALLBACK;
    if (u == Py_None) {
        uint32_t salt;
        uint64_t multiplier;
        if ((status = key_parts(PyTuple_GET_ITEM(pick, 0), &salt, &multiplier)) != 0)
            return status;
        PyObject *id = visitor_get(visitor, s_visitor_id);
        if (id == NULL)
            return -1;
        if (!PyUnicode_Check(id)) {
            Py_DECREF(id);
            return FALLBACK;
        }
        Py_ssize_t length;
        /* Cached in the str for non-ASCII ids; raises for lone surrogates, as .encode(). */
        const char *utf8 = PyUnicode_AsUTF8AndSize(id, &length);
        if (utf8 == NULL) {
            Py_DECREF(id);
            return -1;
        }
        uint64_t crc = crc32_seeded(salt, (const unsigned char *)utf8, length);
        Py_DECREF(id);
        point = (uint64_t)((unsigned __int128)mix64(crc * multiplier) * total >> 64);
    } else {
        /* int(u * total) clamped to [0, total): no double lies strictly between total
         * and its rounding, so comparing after truncation agrees with Python. */
        double scaled = PyFloat_AS_DOUBLE(u) * (double)total;
        if (!isfinite(scaled))
            return FALLBACK; /* the reference raises int()'s own error */
        if (scaled < 1.0)
            point = 0;
        else if (scaled >= 18446744073709551616.0)
            point = total - 1;
        else {
            point = (uint64_t)scaled;
            if (point >= total)
                point = total - 1;
        }
    }
    Py_ssize_t low = 0, high = k; /* bisect_right over the cumulative weights */
    while (low < high) {
        Py_ssize_t middle = (low + high) / 2;
        if ((status = as_u64(PyTuple_GET_ITEM(pick, 3 + middle), &bound)) != 0)
            return status;
        if (point < bound)
            high = middle;
        else
            low = middle + 1;
    }
    if (low == k)
        goto corrupt;
    *out = Py_NewRef(PyTuple_GET_ITEM(pick, 3 + k + low));
    return 0;
corrupt:
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_IndexError, "malformed compiled rule");
    return -1;
}

/* A tuple of layout entries (attribute, view dict, base int, ...) of at least `width`. */
static int sections_ok(PyObject *sections, Py_ssize_t width) {
    if (!PyTuple_Check(sections))
        return 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(sections); i++) {
        PyObject *entry = PyTuple_GET_ITEM(sections, i);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) < width ||
            !PyDict_Check(PyTuple_GET_ITEM(entry, 1)) || !PyLong_Check(PyTuple_GET_ITEM(entry, 2)))
            return 0;
    }
    return 1;
}

/* A table's fields, borrowed: tables are frozen dataclasses the caller holds, so their
 * fields outlive the call even across the Python callbacks. `local` is owned. */
typedef struct {
    PyObject *vector, *rules, *residuals, *clock, *local;
} Fields;

static int decide_fields(Fields *f, PyObject *table, PyObject *visitor, PyObject *now_obj,
                         PyObject *u, PyObject **out) {
    int overflow;
    long long now = PyLong_AsLongLongAndOverflow(now_obj, &overflow);
    if (overflow || (now == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return FALLBACK;
    }
    /* Shapes are checked before any callback where it is cheap (the layout is shared, hot
     * in the cache), so a table this code does not expect mostly goes to the reference
     * whole. The vector and the rules are this campaign's own, most likely not cached:
     * they are prefetched here and checked where they are first read. */
    PyObject *layout = SLOT(table, t_layout), *statics = SLOT(table, t_static);
    PyObject *vector = f->vector = SLOT(table, t_vector);
    f->rules = SLOT(table, t_rules);
    f->residuals = SLOT(table, t_residuals);
    f->clock = SLOT(table, t_clock);
    if (!vector || !layout || !f->rules || !f->residuals || !f->clock || !statics ||
        !Py_IS_TYPE(layout, layout_type))
        return FALLBACK;
    __builtin_prefetch(vector);
    __builtin_prefetch(f->rules);
    PyObject *exact = SLOT(layout, l_exact), *folded = SLOT(layout, l_folded);
    PyObject *weeks = SLOT(layout, l_week);
    if (!exact || !folded || !weeks || !sections_ok(exact, 3) || !sections_ok(folded, 4))
        return FALLBACK;
    Py_ssize_t week;
    if (as_index(weeks, &week)) {
        PyErr_Clear();
        return FALLBACK;
    }
    if (week >= 0 && (!Py_IS_TYPE(f->clock, clock_type) || !SLOT(f->clock, c_hours)))
        return FALLBACK;
    uint64_t mask, part;
    int status = as_u64(statics, &mask); /* past 64 rules: the reference */
    if (status != 0)
        return status;

    /* First where each section's mask is, then the masks: the lookups hit dicts every
     * campaign shares (cached) while this campaign's vector, rules and candidate rule
     * tuples arrive, instead of stalling on each in turn. */
    Py_ssize_t at[MAX_SECTIONS], position;
    int sections = 0;
    if (PyTuple_GET_SIZE(exact) + PyTuple_GET_SIZE(folded) >= MAX_SECTIONS)
        return FALLBACK;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(exact); i++) {
        PyObject *entry = PyTuple_GET_ITEM(exact, i); /* (attribute, view, base) */
        PyObject *value = visitor_get(visitor, PyTuple_GET_ITEM(entry, 0));
        if (value == NULL)
            return -1;
        PyObject *found = PyDict_GetItemWithError(PyTuple_GET_ITEM(entry, 1), value);
        Py_DECREF(value);
        if (found == NULL && PyErr_Occurred())
            return -1;
        if (as_index(found ? found : PyTuple_GET_ITEM(entry, 2), &position))
            return -1;
        PREFETCH_MASK(vector, position);
        at[sections++] = position;
    }
    if (PyTuple_Check(f->rules)) {
        int budget = 8; /* the lowest rules of the static mask: the choice is among them */
        for (uint64_t bits = mask; bits && budget--; bits &= bits - 1) {
            Py_ssize_t rule = __builtin_ctzll(bits);
            if (rule >= PyTuple_GET_SIZE(f->rules))
                break;
            PyObject *pick = PyTuple_GET_ITEM(f->rules, rule); /* two lines: 4+ choices */
            __builtin_prefetch(pick);
            __builtin_prefetch((char *)pick + 64);
        }
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(folded); i++) {
        PyObject *entry = PyTuple_GET_ITEM(folded, i); /* (attribute, view, base, domain) */
        PyObject *view = PyTuple_GET_ITEM(entry, 1), *base = PyTuple_GET_ITEM(entry, 2);
        PyObject *raw = visitor_get(visitor, PyTuple_GET_ITEM(entry, 0));
        if (raw == NULL)
            return -1;
        PyObject *found = PyDict_GetItemWithError(view, raw);
        if (found != NULL) {
            status = as_index(found, &position);
        } else if (PyErr_Occurred()) {
            status = -1;
        } else { /* a spelling this process has not seen: fold it in Python, once */
            found = PyObject_CallMethodObjArgs(PyTuple_GET_ITEM(entry, 3), s_locate, raw, view,
                                               base, NULL);
            status = found == NULL ? -1 : as_index(found, &position);
            Py_XDECREF(found);
        }
        Py_DECREF(raw);
        if (status != 0)
            return status;
        PREFETCH_MASK(vector, position);
        at[sections++] = position;
    }
    if (week >= 0) {
        long long quarter = now / QUARTER_MS - (now % QUARTER_MS < 0); /* floor division */
        PyObject *hours = SLOT(f->clock, c_hours), *key = PyLong_FromLongLong(quarter);
        if (key == NULL)
            return -1;
        PyObject *hour = PyDict_Check(hours) ? PyDict_GetItemWithError(hours, key) : NULL;
        Py_DECREF(key);
        if (hour != NULL) {
            status = as_index(hour, &position);
        } else if (PyErr_Occurred()) {
            status = -1;
        } else {
            hour = PyObject_CallMethodObjArgs(f->clock, s_hour_of_week, now_obj, NULL);
            status = hour == NULL ? -1 : as_index(hour, &position);
            Py_XDECREF(hour);
        }
        if (status != 0)
            return status;
        at[sections++] = week + position;
    }
    for (int i = 0; i < sections; i++) {
        if ((status = mask_at(vector, at[i], &part)) != 0)
            return status;
        mask &= part;
    }
    if (!PyTuple_Check(f->rules) || PyTuple_GET_SIZE(f->rules) > 64)
        return FALLBACK;

    PyObject *residuals = f->residuals;
    while (mask) {
        uint64_t low = mask & (0 - mask);
        position = __builtin_ctzll(mask);
        if (residuals != Py_None) {
            PyObject *checks = PySequence_GetItem(residuals, position);
            if (checks == NULL)
                return -1;
            int any = PyObject_IsTrue(checks), passed = 1;
            if (any > 0 && f->local == NULL) { /* local time only when a residual needs it */
                f->local = f->clock == Py_None
                               ? PyLong_FromLong(0)
                               : PyObject_CallMethodObjArgs(f->clock, s_local_ms, now_obj, NULL);
                if (f->local == NULL)
                    any = -1;
            }
            if (any > 0) {
                PyObject *iterator = PyObject_GetIter(checks);
                PyObject *passes;
                while (passed == 1 && iterator && (passes = PyIter_Next(iterator))) {
                    PyObject *args[2] = {visitor, f->local};
                    PyObject *verdict = PyObject_Vectorcall(passes, args, 2, NULL);
                    Py_DECREF(passes);
                    passed = verdict == NULL ? -1 : PyObject_IsTrue(verdict);
                    Py_XDECREF(verdict);
                }
                if (iterator == NULL || PyErr_Occurred())
                    passed = -1;
                Py_XDECREF(iterator);
            }
            Py_DECREF(checks);
            if (any < 0 || passed < 0)
                return -1;
            if (!passed) {
                mask ^= low;
                continue;
            }
        }
        if (position >= PyTuple_GET_SIZE(f->rules)) {
            PyErr_SetString(PyExc_IndexError, "rule index out of range");
            return -1;
        }
        PyObject *pick = PyTuple_GET_ITEM(f->rules, position);
        if (!PyTuple_Check(pick))
            return FALLBACK;
        return choose(pick, visitor, u, out);
    }
    *out = Py_NewRef(Py_None);
    return 0;
}

PyDoc_STRVAR(decide_doc,
             "decide(table, visitor, now_ms, u=None)\n--\n\n"
             "splitter.decide.decide_py in C: same arguments, same result.");

static PyObject *decide(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames) {
    PyObject *given[4] = {NULL, NULL, NULL, NULL};
    Py_ssize_t keywords = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    int plain = reference != NULL && nargs <= 4;
    for (Py_ssize_t i = 0; plain && i < nargs; i++)
        given[i] = args[i];
    for (Py_ssize_t i = 0; plain && i < keywords; i++) {
        int slot = 0;
        while (slot < 4 && PyUnicode_Compare(PyTuple_GET_ITEM(kwnames, i), arg_names[slot]))
            slot++;
        plain = slot < 4 && given[slot] == NULL; /* else the reference raises TypeError */
        if (plain)
            given[slot] = args[nargs + i];
    }
    if (given[3] == NULL)
        given[3] = Py_None;
    if (plain)
        plain = given[0] && given[1] && given[2] && Py_IS_TYPE(given[0], table_type) &&
                PyLong_CheckExact(given[2]) && (given[3] == Py_None || PyFloat_CheckExact(given[3]));
    if (PyErr_Occurred())
        return NULL;
    if (!plain) /* unusual calls get the reference's behaviour, errors included */
        return reference ? PyObject_Vectorcall(reference, args, nargs, kwnames)
                         : PyErr_Format(PyExc_RuntimeError, "splitter._decide is not configured");

    Fields fields = {NULL, NULL, NULL, NULL, NULL};
    PyObject *result = NULL;
    int status = decide_fields(&fields, given[0], given[1], given[2], given[3], &result);
    Py_XDECREF(fields.local);
    if (status == FALLBACK)
        return PyObject_CallFunctionObjArgs(reference, given[0], given[1], given[2], given[3],
                                            NULL);
    return status == 0 ? result : NULL;
}

static int set_type(PyObject *object, PyTypeObject **target) {
    if (!PyType_Check(object)) {
        PyErr_SetString(PyExc_TypeError, "configure() takes the classes of splitter");
        return -1;
    }
    Py_XSETREF(*target, (PyTypeObject *)Py_NewRef(object));
    return 0;
}

PyDoc_STRVAR(configure_doc,
             "configure(reference, CampaignTable, Layout, ZoneClock, Visitor)\n--\n\n"
             "Bind the reference decide and read the slot offsets of the classes.");

static PyObject *configure(PyObject *module, PyObject *args) {
    PyObject *ref, *types[4];
    if (!PyArg_ParseTuple(args, "OOOOO:configure", &ref, &types[0], &types[1], &types[2],
                          &types[3]))
        return NULL;
    if (set_type(types[0], &table_type) || set_type(types[1], &layout_type) ||
        set_type(types[2], &clock_type) || set_type(types[3], &visitor_type))
        return NULL;
    struct { Py_ssize_t *offset; PyTypeObject **type; const char *name; } wanted[] = {
        {&t_static, &table_type, "static"},    {&t_vector, &table_type, "vector"},
        {&t_layout, &table_type, "layout"},    {&t_rules, &table_type, "rules"},
        {&t_residuals, &table_type, "residuals"}, {&t_clock, &table_type, "clock"},
        {&l_exact, &layout_type, "exact"},     {&l_folded, &layout_type, "folded"},
        {&l_week, &layout_type, "week"},       {&c_hours, &clock_type, "hours"},
    };
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++)
        if ((*wanted[i].offset = slot_offset(*wanted[i].type, wanted[i].name)) < 0)
            return NULL;
    PyObject *names = PyObject_GetAttrString(types[3], "__slots__");
    if (names == NULL)
        return NULL;
    PyObject *tuple = PySequence_Tuple(names);
    Py_DECREF(names);
    if (tuple == NULL)
        return NULL;
    int count = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(tuple) && count < 32; i++, count++) {
        PyObject *name = Py_NewRef(PyTuple_GET_ITEM(tuple, i));
        if (!PyUnicode_CheckExact(name) ||
            (fields[count].offset = slot_offset(visitor_type, PyUnicode_AsUTF8(name))) < 0) {
            Py_DECREF(name);
            Py_DECREF(tuple);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "Visitor.__slots__ must hold names");
            return NULL;
        }
        PyUnicode_InternInPlace(&name);
        Py_XSETREF(fields[count].name, name);
    }
    Py_DECREF(tuple);
    field_count = count;
    Py_XSETREF(reference, Py_NewRef(ref));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"decide", (PyCFunction)(void (*)(void))decide, METH_FASTCALL | METH_KEYWORDS, decide_doc},
    {"configure", configure, METH_VARARGS, configure_doc},
    {NULL, NULL, 0, NULL},
};

/* Single-phase init with static state: the module is configured once per process by
 * splitter.decide and is not meant for subinterpreters. */
static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "splitter._decide",
    .m_doc = "splitter.decide in C.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__decide(void) {
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; bit++)
            crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        crc_table[byte] = crc;
    }
    const char *names[4] = {"table", "visitor", "now_ms", "u"};
    for (int i = 0; i < 4; i++)
        if (arg_names[i] == NULL && (arg_names[i] = PyUnicode_InternFromString(names[i])) == NULL)
            return NULL;
    if (!(s_locate = PyUnicode_InternFromString("locate")) ||
        !(s_hour_of_week = PyUnicode_InternFromString("hour_of_week")) ||
        !(s_local_ms = PyUnicode_InternFromString("local_ms")) ||
        !(s_visitor_id = PyUnicode_InternFromString("visitor_id")))
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && PyModule_AddStringConstant(module, "SOURCE_SHA256", SOURCE_SHA256)) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
