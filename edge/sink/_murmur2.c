/* Kafka's default partitioner in C: murmur2 of each key (as
 * org.apache.kafka.common.utils.Utils.murmur2), its sign bit cleared, modulo the partition
 * count. edge/sink/partition.py keeps the reference in Python and uses this one when it is
 * built; tests/unit/edge_sink/test_partition.py holds both to aiokafka's partitioner.
 *
 * Replaces a numpy version: numpy cost the edge ~15 MB of RSS for this one loop.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#ifndef SOURCE_SHA256
#define SOURCE_SHA256 "unknown"
#endif

#define SEED 0x9747B28Cu
#define M 0x5BD1E995u

static uint32_t murmur2(const unsigned char *data, Py_ssize_t length) {
    uint32_t h = SEED ^ (uint32_t)length;
    Py_ssize_t words = length >> 2;
    for (Py_ssize_t i = 0; i < words; i++) {
        uint32_t k;
        memcpy(&k, data + 4 * i, 4); /* little-endian hosts only: checked at import */
        k *= M;
        k ^= k >> 24;
        k *= M;
        h *= M;
        h ^= k;
    }
    const unsigned char *tail = data + 4 * words;
    switch (length & 3) {
    case 3:
        h ^= (uint32_t)tail[2] << 16;
        /* fall through */
    case 2:
        h ^= (uint32_t)tail[1] << 8;
        /* fall through */
    case 1:
        h ^= tail[0];
        h *= M;
    }
    h ^= h >> 13;
    h *= M;
    h ^= h >> 15;
    return h;
}

static PyObject *py_murmur2(PyObject *self, PyObject *arg) {
    (void)self;
    if (!PyBytes_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "murmur2() takes bytes, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    return PyLong_FromUnsignedLong(
        murmur2((const unsigned char *)PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg)));
}

static PyObject *py_partitions(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *keys;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "On:partitions", &keys, &count)) {
        return NULL;
    }
    if (count < 1) {
        PyErr_SetString(PyExc_ValueError, "partitions() needs a count of at least 1");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(keys, "partitions() takes a sequence of bytes");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *key = items[i];
        if (!PyBytes_Check(key)) {
            PyErr_Format(PyExc_TypeError, "partitions() takes bytes keys, not %.100s",
                         Py_TYPE(key)->tp_name);
            Py_DECREF(out);
            Py_DECREF(seq);
            return NULL;
        }
        uint32_t h = murmur2((const unsigned char *)PyBytes_AS_STRING(key),
                             PyBytes_GET_SIZE(key));
        PyObject *partition = PyLong_FromSsize_t((Py_ssize_t)(h & 0x7FFFFFFFu) % count);
        if (partition == NULL) {
            Py_DECREF(out);
            Py_DECREF(seq);
            return NULL;
        }
        PyList_SET_ITEM(out, i, partition);
    }
    Py_DECREF(seq);
    return out;
}

static PyMethodDef methods[] = {
    {"murmur2", py_murmur2, METH_O, "murmur2(key: bytes) -> int, as Kafka's (unsigned)."},
    {"partitions", py_partitions, METH_VARARGS,
     "partitions(keys: Sequence[bytes], count: int) -> list[int]: each key's partition "
     "index, as Kafka's default partitioner."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_murmur2", "Kafka's default partitioner in C.", -1, methods,
};

PyMODINIT_FUNC PyInit__murmur2(void) {
    const uint32_t probe = 1;
    if (*(const unsigned char *)&probe != 1) {
        PyErr_SetString(PyExc_ImportError, "_murmur2 reads words little-endian");
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && PyModule_AddStringConstant(module, "SOURCE_SHA256", SOURCE_SHA256)) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
