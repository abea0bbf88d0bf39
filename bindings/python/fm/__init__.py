"""Python bindings for libfm over ctypes: no compile step.

The shared library is found through $FM_LIBRARY (a path), else the system's
library search path ("libfm.so.1").

    import fm
    with fm.Model("stories260K.gguf") as model:
        for piece in model.generate("Once upon a time", n=64, temperature=0):
            print(piece, end="")
"""

from __future__ import annotations

import ctypes
import json
import math
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

Ids = Sequence[int]
Message = Dict[str, Any]

__all__ = ["Error", "FmError", "ClosedError", "Model", "Context", "Tokenizer", "ChatTemplate", "Grammar", "Sampler",
           "version",
           "quantize",
           "STATE_ALL", "POS_NEXT"]

_c_float_p = ctypes.POINTER(ctypes.c_float)
_token_p = ctypes.POINTER(ctypes.c_int32)


_progress_fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_float, ctypes.c_void_p)


class _QuantizeParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("ftype", ctypes.c_int32),
                ("n_threads", ctypes.c_int32), ("progress", _progress_fn), ("progress_user", ctypes.c_void_p)]


class _ModelParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("tokenizer_path", ctypes.c_char_p),
                ("progress", _progress_fn), ("progress_user", ctypes.c_void_p)]


_abort_fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class _ContextParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("n_ctx", ctypes.c_uint32), ("n_batch", ctypes.c_uint32),
                ("n_threads", ctypes.c_int32), ("backend", ctypes.c_char_p), ("flags", ctypes.c_uint32),
                ("kv_type", ctypes.c_int32), ("n_seq_max", ctypes.c_uint32), ("abort", _abort_fn),
                ("abort_user", ctypes.c_void_p)]


class _ChatParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("add_generation_prompt", ctypes.c_int32),
                ("bos_token", ctypes.c_char_p), ("eos_token", ctypes.c_char_p), ("tools", ctypes.c_char_p),
                ("variables", ctypes.c_char_p), ("now", ctypes.c_int64), ("max_output", ctypes.c_uint64),
                ("max_steps", ctypes.c_uint64)]


class _ScoreParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("seq", ctypes.c_int32), ("top_k", ctypes.c_int32),
                ("logprobs", ctypes.POINTER(ctypes.c_double)), ("ranks", ctypes.POINTER(ctypes.c_int32)),
                ("top_tokens", ctypes.POINTER(ctypes.c_int32)), ("top_logprobs", ctypes.POINTER(ctypes.c_double))]


class _LogitBias(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int32), ("bias", ctypes.c_float)]


class _SamplerParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("flags", ctypes.c_uint32), ("seed", ctypes.c_uint64),
                ("temperature", ctypes.c_float), ("top_k", ctypes.c_int32), ("top_p", ctypes.c_float),
                ("min_p", ctypes.c_float),
                ("typical_p", ctypes.c_float), ("top_n_sigma", ctypes.c_float), ("dynatemp_range", ctypes.c_float),
                ("dynatemp_exponent", ctypes.c_float), ("xtc_probability", ctypes.c_float),
                ("xtc_threshold", ctypes.c_float), ("penalty_last_n", ctypes.c_int32),
                ("repeat_penalty", ctypes.c_float), ("frequency_penalty", ctypes.c_float),
                ("presence_penalty", ctypes.c_float), ("dry_multiplier", ctypes.c_float),
                ("dry_base", ctypes.c_float), ("dry_allowed_length", ctypes.c_int32), ("dry_last_n", ctypes.c_int32),
                ("mirostat", ctypes.c_int32), ("mirostat_tau", ctypes.c_float), ("mirostat_eta", ctypes.c_float),
                ("tokenizer", ctypes.c_void_p), ("logit_bias", ctypes.POINTER(_LogitBias)),
                ("n_logit_bias", ctypes.c_size_t)]


# the fm_sampler_params fields generate() takes as keyword arguments
SAMPLING_OPTIONS = tuple(f for f, _ in _SamplerParams._fields_
                         if f not in ("struct_size", "flags", "tokenizer", "logit_bias", "n_logit_bias"))


ENCODE_ADD_BOS = 0x1
ENCODE_ADD_EOS = 0x2
ENCODE_PARSE_SPECIAL = 0x4
ENCODE_ADD_SPECIAL_AUTO = 0x8
ENCODE_CONTINUE = 0x10
DECODE_RENDER_SPECIAL = 0x1
DECODE_STRIP_LEADING_SPACE = 0x2
_STATUS_BUFFER_TOO_SMALL = -7
_STATUS_NOT_FOUND = -8
_LOGITS_LAST = 0
_LOGITS_ALL = 1
STATE_ALL = -1  # fm_context_state_* of the whole context
POS_NEXT = -1  # fm_batch_add: after the sequence's last position
_KV_TYPES = {"f32": 0, "f16": 1}
_SPECIAL = {"bos": 0, "eos": 1, "unk": 2, "pad": 3, "sep": 4, "cls": 5, "mask": 6}


_LIB_NAMES = ("libfm.so.1", "libfm.so.0", "libfm.so", "libfm.dylib", "fm.dll")


def _open_library():
    """$FM_LIBRARY if set (nothing else then), else a copy beside this
    package, else the system loader; the ImportError says what was tried."""
    env = os.environ.get("FM_LIBRARY")
    if env:
        try:
            return ctypes.CDLL(env)
        except OSError as e:
            raise ImportError("libfm: FM_LIBRARY=%s cannot be loaded: %s" % (env, e)) from None
    here = os.path.dirname(os.path.abspath(__file__))
    tried = []
    for how, path in [("beside the package", os.path.join(here, n)) for n in _LIB_NAMES] + \
            [("system loader", n) for n in _LIB_NAMES[:2]]:
        if how == "beside the package" and not os.path.exists(path):
            tried.append("%s: no %s" % (how, path))
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s: %s: %s" % (how, path, e))
    raise ImportError("libfm not found; tried $FM_LIBRARY (unset), then\n  " + "\n  ".join(tried) +
                      "\nset FM_LIBRARY to the library's path, or install libfm")


def _load_library():
    lib = _open_library()
    p = ctypes.POINTER
    sigs = {
        "fm_version": (ctypes.c_char_p, []),
        "fm_status_name": (ctypes.c_char_p, [ctypes.c_int]),
        "fm_last_error": (ctypes.c_char_p, []),
        "fm_tokenizer_load": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_void_p, p(ctypes.c_void_p)]),
        "fm_tokenizer_free": (None, [ctypes.c_void_p]),
        "fm_tokenizer_n_vocab": (ctypes.c_int32, [ctypes.c_void_p]),
        "fm_tokenizer_special": (ctypes.c_int32, [ctypes.c_void_p, ctypes.c_int]),
        "fm_tokenizer_encode": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32,
                                               _token_p, ctypes.c_size_t, p(ctypes.c_size_t)]),
        "fm_tokenizer_decode": (ctypes.c_int, [ctypes.c_void_p, _token_p, ctypes.c_size_t, ctypes.c_uint32,
                                               ctypes.c_char_p, ctypes.c_size_t, p(ctypes.c_size_t)]),
        "fm_detokenizer_new": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint32, p(ctypes.c_void_p)]),
        "fm_detokenizer_push": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p, ctypes.c_size_t,
                                               p(ctypes.c_size_t)]),
        "fm_detokenizer_flush": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                                p(ctypes.c_size_t)]),
        "fm_detokenizer_free": (None, [ctypes.c_void_p]),
        "fm_model_params_init": (ctypes.c_int, [p(_ModelParams), ctypes.c_size_t]),
        "fm_model_load": (ctypes.c_int, [ctypes.c_char_p, p(_ModelParams), p(ctypes.c_void_p)]),
        "fm_model_free": (None, [ctypes.c_void_p]),
        "fm_model_tokenizer": (ctypes.c_void_p, [ctypes.c_void_p]),
        "fm_context_params_init": (ctypes.c_int, [p(_ContextParams), ctypes.c_size_t]),
        "fm_context_new": (ctypes.c_int, [ctypes.c_void_p, p(_ContextParams), p(ctypes.c_void_p)]),
        "fm_context_free": (None, [ctypes.c_void_p]),
        "fm_context_decode": (ctypes.c_int, [ctypes.c_void_p, _token_p, ctypes.c_size_t, ctypes.c_uint32]),
        "fm_context_logits": (_c_float_p, [ctypes.c_void_p, ctypes.c_int32]),
        "fm_context_embed": (ctypes.c_int, [ctypes.c_void_p, _token_p, ctypes.c_size_t, ctypes.c_int32,
                                            ctypes.c_uint32, _c_float_p, ctypes.c_size_t, p(ctypes.c_size_t)]),
        "fm_model_get_info": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_int]),
        "fm_model_arch": (ctypes.c_char_p, [ctypes.c_void_p]),
        "fm_sampler_params_init": (ctypes.c_int, [p(_SamplerParams), ctypes.c_size_t]),
        "fm_sampler_new": (ctypes.c_int, [p(_SamplerParams), p(ctypes.c_void_p)]),
        "fm_sampler_sample": (ctypes.c_int, [ctypes.c_void_p, _c_float_p, ctypes.c_int32, _token_p]),
        "fm_sampler_free": (None, [ctypes.c_void_p]),
        "fm_sampler_accept": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_uint32]),
        "fm_tokenizer_is_eog": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32]),
        "fm_stop_new": (ctypes.c_int, [p(ctypes.c_char_p), ctypes.c_size_t, p(ctypes.c_void_p)]),
        "fm_stop_feed": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, p(ctypes.c_void_p),
                                        p(ctypes.c_size_t)]),
        "fm_stop_flush": (ctypes.c_int, [ctypes.c_void_p, p(ctypes.c_void_p), p(ctypes.c_size_t)]),
        "fm_stop_matched": (ctypes.c_int32, [ctypes.c_void_p]),
        "fm_stop_free": (None, [ctypes.c_void_p]),
        "fm_context_decode_batch": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p]),
        "fm_batch_new": (ctypes.c_int, [p(ctypes.c_void_p)]),
        "fm_batch_free": (None, [ctypes.c_void_p]),
        "fm_batch_clear": (None, [ctypes.c_void_p]),
        "fm_batch_add": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, _token_p, ctypes.c_int32,
                                        ctypes.c_int]),
        "fm_context_clear": (ctypes.c_int, [ctypes.c_void_p]),
        "fm_context_n_past": (ctypes.c_uint32, [ctypes.c_void_p]),
        "fm_context_seq_rm": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32]),
        "fm_context_seq_cp": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                                             ctypes.c_int32]),
        "fm_context_seq_keep": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32]),
        "fm_context_seq_shift": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                                                ctypes.c_int32]),
        "fm_context_seq_pos_range": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, p(ctypes.c_int32),
                                                    p(ctypes.c_int32)]),
        "fm_context_seq_tokens": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, _token_p, ctypes.c_size_t,
                                                 p(ctypes.c_size_t)]),
        "fm_context_state_save": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_size_t,
                                                 p(ctypes.c_size_t)]),
        "fm_context_state_load": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p, ctypes.c_size_t]),
        "fm_context_state_save_file": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p]),
        "fm_context_state_load_file": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p]),
        "fm_quantize_params_init": (ctypes.c_int, [p(_QuantizeParams), ctypes.c_size_t]),
        "fm_model_quantize": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_char_p, p(_QuantizeParams)]),
        "fm_ftype_from_name": (ctypes.c_int, [ctypes.c_char_p, p(ctypes.c_int32)]),
        "fm_tokenizer_token_to_piece": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_uint32,
                                                       ctypes.c_char_p, ctypes.c_size_t, p(ctypes.c_size_t)]),
        "fm_chat_template_new": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, p(ctypes.c_void_p)]),
        "fm_chat_template_builtin": (ctypes.c_int, [ctypes.c_char_p, p(ctypes.c_void_p)]),
        "fm_chat_template_builtin_name": (ctypes.c_char_p, [ctypes.c_size_t]),
        "fm_chat_template_from_model": (ctypes.c_int, [ctypes.c_void_p, p(ctypes.c_void_p)]),
        "fm_chat_template_free": (None, [ctypes.c_void_p]),
        "fm_chat_params_init": (ctypes.c_int, [p(_ChatParams), ctypes.c_size_t]),
        "fm_chat_render_json": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, p(_ChatParams),
                                               ctypes.c_char_p, ctypes.c_size_t, p(ctypes.c_size_t)]),
        "fm_score_params_init": (ctypes.c_int, [p(_ScoreParams), ctypes.c_size_t]),
        "fm_grammar_parse_gbnf": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, p(ctypes.c_void_p)]),
        "fm_grammar_from_regex": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, p(ctypes.c_void_p)]),
        "fm_grammar_from_json_schema": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32,
                                                       p(ctypes.c_void_p)]),
        "fm_grammar_free": (None, [ctypes.c_void_p]),
        "fm_model_meta": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t,
                                         p(ctypes.c_size_t)]),
        "fm_model_meta_key": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int64]),
        "fm_sampler_add_grammar": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]),
        "fm_sampler_new_chain": (ctypes.c_int, [ctypes.c_uint64, p(ctypes.c_void_p)]),
        "fm_sampler_add": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_double]),
        "fm_sampler_add_temp_ext": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_double, ctypes.c_double, ctypes.c_double]),
        "fm_sampler_add_xtc": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_double, ctypes.c_double, ctypes.c_int32]),
        "fm_sampler_add_penalties": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int32, ctypes.c_double, ctypes.c_double,
                                                    ctypes.c_double]),
        "fm_sampler_add_dry": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_double, ctypes.c_double,
                                              ctypes.c_int32, ctypes.c_int32, p(ctypes.c_char_p), ctypes.c_size_t]),
        "fm_sampler_add_logit_bias": (ctypes.c_int, [ctypes.c_void_p, p(_LogitBias), ctypes.c_size_t]),
        "fm_sampler_add_mirostat": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_double, ctypes.c_double, ctypes.c_int32]),
        "fm_sampler_add_mirostat_v2": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_double, ctypes.c_double]),
        "fm_sampler_reset": (None, [ctypes.c_void_p]),
        "fm_sampler_clone": (ctypes.c_int, [ctypes.c_void_p, p(ctypes.c_void_p)]),
        "fm_sampler_n_steps": (ctypes.c_int32, [ctypes.c_void_p]),
        "fm_sampler_step_name": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int32]),
        "fm_sampler_set_seed": (None, [ctypes.c_void_p, ctypes.c_uint64]),
        "fm_context_score": (ctypes.c_int, [ctypes.c_void_p, _token_p, ctypes.c_size_t, _token_p, ctypes.c_size_t,
                                            p(_ScoreParams), p(ctypes.c_double)]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    return lib


_lib = _load_library()


class Error(Exception):
    """A libfm call failed. `status` is the fm_status name
    ("FM_STATUS_CONTEXT_FULL"), `code` its number, args[0] the message. Each
    status has its subclass (ContextFullError, InvalidArgumentError, ...),
    so callers can catch the one they handle."""

    def __init__(self, status, message=None):
        self.code = status
        self.status = _lib.fm_status_name(status).decode() if status is not None else "closed"
        if message is None:
            message = _lib.fm_last_error().decode("utf-8", "replace")
        super().__init__("%s (%s)" % (message, self.status))


FmError = Error  # the 0.x name


class ClosedError(Error, ValueError):
    """A call on a closed (or freed) object: never a crash."""

    def __init__(self, what):
        super().__init__(None, "the %s is closed" % what)


_ERRORS = {}
for _code in range(-1, -64, -1):
    _name = _lib.fm_status_name(_code).decode()
    if _name == "FM_STATUS_UNKNOWN":
        break
    _cls = "".join(w.capitalize() for w in _name[len("FM_STATUS_"):].split("_")) + "Error"
    _ERRORS[_code] = type(_cls, (Error,), {"__doc__": "libfm's %s." % _name})
    globals()[_cls] = _ERRORS[_code]
    __all__.append(_cls)


def _check(status):
    if status != 0:
        raise _ERRORS.get(status, Error)(status)


def _init(struct, init_fn):
    """A params struct filled with the library's defaults (the _params_init pattern)."""
    p = struct()
    _check(init_fn(ctypes.byref(p), ctypes.sizeof(p)))
    return p


def version() -> str:
    return _lib.fm_version().decode()


def quantize(in_path: str, out_path: str, type: str = "Q4_K_M", pure: bool = False, allow_requantize: bool = False,
             threads: int = 0, progress: Optional[Callable[[float], bool]] = None) -> None:
    """Writes a quantized copy of the GGUF model at `in_path` to `out_path`
    (fm_model_quantize). `type` as llama-quantize spells it ("Q4_K_M",
    "Q8_0", "IQ4_XS", ...). `progress(done)` gets 0..1 and may return True
    to cancel (FmError FM_STATUS_CANCELLED). Raises FmError on failure;
    nothing is left at `out_path` then."""
    p = _QuantizeParams()
    _check(_lib.fm_quantize_params_init(ctypes.byref(p), ctypes.sizeof(p)))
    ft = ctypes.c_int32()
    _check(_lib.fm_ftype_from_name(type.encode(), ctypes.byref(ft)))
    p.ftype = ft.value
    p.flags = (1 if pure else 0) | (2 if allow_requantize else 0)
    p.n_threads = threads
    cb = _progress_fn(lambda done, user: 1 if progress(done) else 0) if progress else _progress_fn()
    p.progress = cb
    _check(_lib.fm_model_quantize(os.fsencode(in_path), os.fsencode(out_path), ctypes.byref(p)))


class _Closing:
    """Context-manager and finalizer behaviour for handles with close()."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Tokenizer:
    """A vocabulary and its algorithm. Standalone ones come from
    Tokenizer.load(path); a model's is borrowed from the model."""

    def __init__(self, handle, owner=None):
        self._h = handle
        self._owner = owner  # keeps a model alive while its tokenizer is used

    def _live(self):
        if self._owner is not None:
            self._owner._live()
        if not self._h:
            raise ClosedError("tokenizer")
        return self._h

    @classmethod
    def load(cls, path: str) -> "Tokenizer":
        h = ctypes.c_void_p()
        _check(_lib.fm_tokenizer_load(os.fsencode(path), None, ctypes.byref(h)))
        return cls(h, None)

    def close(self) -> None:
        """Frees a standalone tokenizer (a model's lives as long as the model)."""
        if self._owner is None and getattr(self, "_h", None):
            _lib.fm_tokenizer_free(self._h)
            self._h = None

    def __del__(self):
        self.close()

    @property
    def n_vocab(self) -> int:
        return _lib.fm_tokenizer_n_vocab(self._live())

    def special(self, which: str) -> Optional[int]:
        """Id of "bos", "eos", "unk", "pad", ... or None."""
        t = _lib.fm_tokenizer_special(self._live(), _SPECIAL[which])
        return None if t < 0 else t

    def encode(self, text: Union[str, bytes], add_special: bool = True, parse_special: bool = False,
               continuation: bool = False) -> List[int]:
        """Token ids of `text` (str or bytes). add_special follows the
        vocabulary's own BOS/EOS settings. continuation=True: the text
        continues earlier text (no SentencePiece dummy-prefix space)."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        flags = (ENCODE_ADD_SPECIAL_AUTO if add_special else 0) | (ENCODE_PARSE_SPECIAL if parse_special else 0)
        flags |= ENCODE_CONTINUE if continuation else 0
        h = self._live()
        n = ctypes.c_size_t()
        cap = len(data) + 8
        while True:
            buf = (ctypes.c_int32 * cap)()
            s = _lib.fm_tokenizer_encode(h, data, len(data), flags, buf, cap, ctypes.byref(n))
            if s == _STATUS_BUFFER_TOO_SMALL:
                cap = n.value
                continue
            _check(s)
            return list(buf[:n.value])

    def piece(self, token: int, render_special: bool = True) -> str:
        """The text of one token (bytes decoded as UTF-8, errors replaced)."""
        h = self._live()
        n = ctypes.c_size_t()
        buf = ctypes.create_string_buffer(256)
        s = _lib.fm_tokenizer_token_to_piece(h, token, DECODE_RENDER_SPECIAL if render_special else 0, buf,
                                             256, ctypes.byref(n))
        if s == _STATUS_BUFFER_TOO_SMALL:
            buf = ctypes.create_string_buffer(n.value)
            s = _lib.fm_tokenizer_token_to_piece(h, token, DECODE_RENDER_SPECIAL if render_special else 0,
                                                 buf, n.value, ctypes.byref(n))
        _check(s)
        return buf.raw[:n.value].decode("utf-8", "replace")

    def decode(self, ids: Ids, strip_leading_space: bool = True, render_special: bool = False) -> str:
        """Text of `ids`; invalid UTF-8 is replaced."""
        arr = (ctypes.c_int32 * len(ids))(*ids)
        flags = (DECODE_STRIP_LEADING_SPACE if strip_leading_space else 0) | \
            (DECODE_RENDER_SPECIAL if render_special else 0)
        n = ctypes.c_size_t()
        cap = 16 * len(ids) + 16
        while True:
            buf = ctypes.create_string_buffer(cap)
            s = _lib.fm_tokenizer_decode(self._live(), arr, len(ids), flags, buf, cap, ctypes.byref(n))
            if s == _STATUS_BUFFER_TOO_SMALL:
                cap = n.value
                continue
            _check(s)
            return buf.raw[:n.value].decode("utf-8", "replace")


class _Stop:
    """The library's stop-string matcher over str pieces (fm_stop_*)."""

    def __init__(self, strings):
        if isinstance(strings, str):
            strings = [strings]
        enc = [x.encode("utf-8") for x in strings]
        arr = (ctypes.c_char_p * len(enc))(*enc)
        self._h = ctypes.c_void_p()
        _check(_lib.fm_stop_new(arr, len(enc), ctypes.byref(self._h)))

    def _out(self, ptr, n):
        return ctypes.string_at(ptr, n.value).decode("utf-8") if n.value else ""

    def feed(self, text):
        b = text.encode("utf-8")
        ptr, n = ctypes.c_void_p(), ctypes.c_size_t()
        _check(_lib.fm_stop_feed(self._h, b, len(b), ctypes.byref(ptr), ctypes.byref(n)))
        return self._out(ptr, n)

    def flush(self):
        ptr, n = ctypes.c_void_p(), ctypes.c_size_t()
        _check(_lib.fm_stop_flush(self._h, ctypes.byref(ptr), ctypes.byref(n)))
        return self._out(ptr, n)

    @property
    def matched(self):
        return _lib.fm_stop_matched(self._h)

    def close(self) -> None:
        if self._h:
            _lib.fm_stop_free(self._h)
            self._h = ctypes.c_void_p()


class _Detokenizer:
    def __init__(self, tokenizer, flags):
        self._h = ctypes.c_void_p()
        _check(_lib.fm_detokenizer_new(tokenizer._live(), flags, ctypes.byref(self._h)))
        self._buf = ctypes.create_string_buffer(1 << 16)
        self._n = ctypes.c_size_t()

    def push(self, token):
        _check(_lib.fm_detokenizer_push(self._h, token, self._buf, len(self._buf), ctypes.byref(self._n)))
        return self._buf.raw[:self._n.value].decode("utf-8")

    def flush(self):
        _check(_lib.fm_detokenizer_flush(self._h, self._buf, len(self._buf), ctypes.byref(self._n)))
        return self._buf.raw[:self._n.value].decode("utf-8")

    def close(self) -> None:
        if self._h:
            _lib.fm_detokenizer_free(self._h)
            self._h = None


class Model(_Closing):
    """A loaded model (GGUF or llama2.c checkpoint). Use as a context manager
    or call close(); contexts are made per generate() call."""

    def __init__(self, path, tokenizer_path=None, progress=None):
        """progress(done) gets 0..1 as the load goes on; returning True
        cancels it (FmError FM_STATUS_CANCELLED)."""
        params = _init(_ModelParams, _lib.fm_model_params_init)
        if progress is not None:
            self._progress = _progress_fn(lambda done, user: 1 if progress(done) else 0)
            params.progress = self._progress
        if tokenizer_path is not None:
            self._tok_path = os.fsencode(tokenizer_path)
            params.tokenizer_path = self._tok_path
        self._h = ctypes.c_void_p()
        self._closed, self._users = False, 0
        self.path = os.fspath(path)
        _check(_lib.fm_model_load(os.fsencode(path), ctypes.byref(params), ctypes.byref(self._h)))
        self.tokenizer = Tokenizer(ctypes.c_void_p(_lib.fm_model_tokenizer(self._h)), owner=self)

    def close(self) -> None:
        """No more calls on this model (they raise ClosedError). The weights
        are freed now, or when the last context or generator using them
        ends."""
        self._closed = True
        self._free_if_unused()

    def _free_if_unused(self):
        if getattr(self, "_closed", True) and getattr(self, "_users", 0) == 0 and getattr(self, "_h", None):
            _lib.fm_model_free(self._h)
            self._h = None

    def _live(self):
        if getattr(self, "_closed", True) or not self._h:
            raise ClosedError("model")
        return self._h

    def _use(self):
        """A context or a generator starts using the weights."""
        self._live()
        self._users += 1

    def _unuse(self):
        self._users -= 1
        self._free_if_unused()

    def tokenize(self, text: Union[str, bytes], add_special: bool = True, parse_special: bool = False) -> List[int]:
        self._live()
        return self.tokenizer.encode(text, add_special, parse_special)

    _INFO = ("n_vocab", "n_embd", "n_layer", "n_head", "n_head_kv", "n_ctx_train", "n_ff", "n_params",
             "size_bytes", "is_encoder", "pooling", "n_tensors", "n_meta")

    def info(self) -> Dict[str, Any]:
        """The model's sizes as a dict (fm_model_get_info), plus its architecture."""
        h = self._live()
        d = {name: _lib.fm_model_get_info(h, i) for i, name in enumerate(self._INFO)}
        d["arch"] = _lib.fm_model_arch(h).decode()
        return d

    def meta(self, key: str) -> str:
        """Metadata value `key` as text (numbers in decimal, arrays as
        "[array of N]"); NotFoundError if the file has no such key."""
        h = self._live()
        n = ctypes.c_size_t()
        k = key.encode()
        s = _lib.fm_model_meta(h, k, None, 0, ctypes.byref(n))
        if s not in (0, _STATUS_BUFFER_TOO_SMALL):
            _check(s)
        buf = ctypes.create_string_buffer(n.value + 1)
        _check(_lib.fm_model_meta(h, k, buf, n.value + 1, ctypes.byref(n)))
        return buf.raw[:n.value].decode("utf-8", "replace")

    def metadata(self) -> Dict[str, str]:
        """Every metadata key of the file, in file order, with its value as meta() gives it."""
        h = self._live()
        keys = [_lib.fm_model_meta_key(h, i).decode() for i in range(_lib.fm_model_get_info(h, 12))]
        return {k: self.meta(k) for k in keys}

    POOLING = {"model": -1, "none": 0, "mean": 1, "cls": 2, "last": 3}

    def embed(self, text: Union[str, Sequence[str]], pooling: str = "model", normalize: bool = False,
              n_threads: int = 0) -> Any:
        """The embedding of `text` as a list of floats (fm_context_embed), or
        one list per token with pooling="none". A list of texts gives a list
        of embeddings."""
        if isinstance(text, (list, tuple)):
            return [self.embed(t, pooling, normalize, n_threads) for t in text]
        ids = self.tokenize(text)
        cp = _init(_ContextParams, _lib.fm_context_params_init)
        cp.n_ctx = max(len(ids), 1)
        cp.n_threads = n_threads
        ctx = ctypes.c_void_p()
        _check(_lib.fm_context_new(self._live(), ctypes.byref(cp), ctypes.byref(ctx)))
        try:
            arr = (ctypes.c_int32 * len(ids))(*ids)
            need = ctypes.c_size_t()
            mode = self.POOLING[pooling]
            status = _lib.fm_context_embed(ctx, arr, len(ids), mode, 0, None, 0, ctypes.byref(need))
            if status != _STATUS_BUFFER_TOO_SMALL:
                _check(status)
            out = (ctypes.c_float * need.value)()
            _check(_lib.fm_context_embed(ctx, arr, len(ids), mode, 1 if normalize else 0, out, need.value,
                                         ctypes.byref(need)))
        finally:
            _lib.fm_context_free(ctx)
        vec = list(out)
        if pooling == "none":
            e = self.info()["n_embd"]
            return [vec[i:i + e] for i in range(0, len(vec), e)]
        return vec

    def detokenize(self, ids: Ids) -> str:
        self._live()
        return self.tokenizer.decode(ids)

    def generate(self, prompt, n=128, n_ctx=0, n_threads=0, ignore_eos=False, echo=False, ids=False, stop=None,
                 logit_bias=None, grammar=None, _info=None, **sampling) -> Iterator[Union[str, int]]:
        """Yields the continuation of `prompt` (text, or a list of token
        ids used as they are) piece by piece (whole UTF-8
        characters), or token ids with ids=True. echo=True yields the
        prompt's text first. Generation ends at an end-of-generation token
        (EOS, <|end|>, <|im_end|>, ...) unless ignore_eos, or before the
        first of the `stop` strings (never yielded; text only). logit_bias:
        {token id: bias} (-math.inf bans). The other keywords are
        fm_sampler_params fields (SAMPLING_OPTIONS): temperature (0 is
        greedy), top_k, top_p, min_p, seed, typical_p, repeat_penalty,
        penalty_last_n, frequency_penalty, presence_penalty, dry_multiplier,
        mirostat, mirostat_tau, mirostat_eta, ... grammar: a Grammar the
        output must follow (a JSON Schema, GBNF, a regular expression)."""
        unknown = set(sampling) - set(SAMPLING_OPTIONS)
        if unknown:
            raise TypeError("generate() got unknown sampling options: %s" % ", ".join(sorted(unknown)))
        if stop and ids:
            raise ValueError("stop strings work on text, not with ids=True")
        prompt_ids = list(prompt) if isinstance(prompt, (list, tuple)) else self.tokenize(prompt)
        cp = _init(_ContextParams, _lib.fm_context_params_init)
        cp.n_ctx = n_ctx or len(prompt_ids) + n
        cp.n_threads = n_threads
        sp = _init(_SamplerParams, _lib.fm_sampler_params_init)
        for k, v in sampling.items():
            setattr(sp, k, v)
        sp.tokenizer = self.tokenizer._h
        bias = (_LogitBias * max(1, len(logit_bias or {})))(*[_LogitBias(int(k), float(v))
                                                               for k, v in (logit_bias or {}).items()])
        if logit_bias:
            sp.logit_bias, sp.n_logit_bias = bias, len(logit_bias)
        ctx, smp = ctypes.c_void_p(), ctypes.c_void_p()
        detok = None
        self._use()  # the weights stay while this generator runs, even past close()
        stopper = None
        try:
            stopper = _Stop(stop) if stop else None
            _check(_lib.fm_context_new(self._h, ctypes.byref(cp), ctypes.byref(ctx)))
            _check(_lib.fm_sampler_new(ctypes.byref(sp), ctypes.byref(smp)))
            if grammar is not None:
                _check(_lib.fm_sampler_add_grammar(smp, grammar._live(), self.tokenizer._h))
            info = _info if _info is not None else {}
            info["tokens"], info["finish_reason"] = [], "length"
            for t in prompt_ids:  # the penalties see the prompt, as in llama.cpp
                _lib.fm_sampler_accept(smp, t, 1)
            # the dummy-prefix space goes only where the text starts: at the echoed prompt
            detok = _Detokenizer(self.tokenizer, DECODE_STRIP_LEADING_SPACE if echo else 0)
            if echo and not ids:
                text = "".join(detok.push(t) for t in prompt_ids)
                if text:
                    yield text
            arr = (ctypes.c_int32 * len(prompt_ids))(*prompt_ids)
            _check(_lib.fm_context_decode(ctx, arr, len(prompt_ids), _LOGITS_LAST))
            n_vocab = self.tokenizer.n_vocab
            tok = ctypes.c_int32()
            for i in range(n):
                if self._closed:  # closed while the generator was suspended
                    raise ClosedError("model")
                _check(_lib.fm_sampler_sample(smp, _lib.fm_context_logits(ctx, -1), n_vocab, ctypes.byref(tok)))
                t = tok.value
                if _lib.fm_tokenizer_is_eog(self.tokenizer._h, t) and (not ignore_eos or grammar is not None):
                    info["finish_reason"] = "stop"
                    break
                info["tokens"].append(t)
                if ids:
                    yield t
                else:
                    piece = detok.push(t)
                    if stopper is not None:
                        piece = stopper.feed(piece)
                    if piece:
                        yield piece
                    if stopper is not None and stopper.matched >= 0:
                        info["finish_reason"] = "stop"
                        return
                if i + 1 < n:
                    _check(_lib.fm_context_decode(ctx, ctypes.byref(tok), 1, _LOGITS_LAST))
            if not ids:
                tail = detok.flush()
                if stopper is not None:
                    tail = stopper.feed(tail)
                    if stopper.matched < 0:
                        tail += stopper.flush()
                if tail:
                    yield tail
        finally:
            if stopper is not None:
                stopper.close()
            if detok is not None:
                detok.close()
            _lib.fm_sampler_free(smp)
            _lib.fm_context_free(ctx)
            self._unuse()

    def chat_template(self) -> "ChatTemplate":
        """The model's own chat template (FmError FM_STATUS_NOT_FOUND if the
        file has none)."""
        t = ChatTemplate.__new__(ChatTemplate)
        t._h = ctypes.c_void_p()
        _check(_lib.fm_chat_template_from_model(self._live(), ctypes.byref(t._h)))
        return t

    def _template(self, template):
        if isinstance(template, ChatTemplate):
            return template, False
        if isinstance(template, str):
            return ChatTemplate.builtin(template), True
        try:
            return self.chat_template(), True
        except FmError as e:
            if e.code != _STATUS_NOT_FOUND:
                raise
            return ChatTemplate.builtin("chatml"), True

    def chat_prompt(self, messages: Sequence[Message], template: Union["ChatTemplate", str, None] = None,
                    add_generation_prompt: bool = True, tools: Optional[list] = None, **render: Any) -> List[int]:
        """The conversation rendered by `template` (a ChatTemplate, a
        built-in's name, or None: the model's own, else chatml) with the
        vocabulary's BOS/EOS text as bos_token/eos_token, as token ids:
        special tokens parsed, BOS added unless the template wrote it."""
        tok = self.tokenizer
        bos, eos = tok.special("bos"), tok.special("eos")
        bos_text = tok.piece(bos) if bos is not None else ""
        eos_text = tok.piece(eos) if eos is not None else ""
        t, own = self._template(template)
        try:
            text = t.render(messages, add_generation_prompt=add_generation_prompt, bos_token=bos_text,
                            eos_token=eos_text, tools=tools, **render)
        finally:
            if own:
                t.close()
        ids = tok.encode(text, add_special=False, parse_special=True)
        if bos is not None and not (bos_text and text.startswith(bos_text)):
            ids = [bos] + ids
        return ids

    def chat(self, messages: Sequence[Message], template: Union["ChatTemplate", str, None] = None,
             tools: Optional[list] = None, n: int = 256, stop: Union[str, Sequence[str], None] = None,
             **generate: Any) -> str:
        """The assistant's reply to `messages` (a list of {"role", "content",
        ...} dicts as Hugging Face takes them), generated after the model's
        chat template (see chat_prompt). Stops at an end-of-generation token,
        at ChatML's <|im_end|> / <|im_start|> written as text, or at `stop`.
        Other keywords go to generate()."""
        ids = self.chat_prompt(messages, template=template, tools=tools)
        stops = ["<|im_end|>", "<|im_start|>"] + ([stop] if isinstance(stop, str) else list(stop or []))
        return "".join(self.generate(ids, n=n, stop=stops, **generate))

    def score(self, prompt: str, continuation: str, n_threads: int = 0, top_k: int = 0) -> Dict[str, Any]:
        """How likely the model finds `continuation` after `prompt` (texts;
        the continuation is tokenized as continuing the prompt). A dict:
        tokens, logprobs (natural log, per token), sum, ranks (0 = greedy)
        and, with top_k, top: per token [(id, logprob), ...] best first."""
        p_ids = self.tokenize(prompt)
        c_ids = self.tokenizer.encode(continuation, add_special=False, continuation=True)
        if not p_ids or not c_ids:
            raise ValueError("the prompt (with BOS) and the continuation need at least one token each")
        with Context(self, n_ctx=len(p_ids) + len(c_ids), n_threads=n_threads) as ctx:
            out = ctx.score(p_ids, c_ids, top_k=top_k)
        out["tokens"] = c_ids
        return out

    def classify(self, prompt: str, labels: Sequence[str], n_threads: int = 0) -> List[Tuple[str, float, float]]:
        """Scores each label (text) as the continuation of `prompt`, with the
        prompt decoded once. [(label, logprob, probability over the labels)]
        best first (ties in the order given)."""
        p_ids = self.tokenize(prompt)
        l_ids = [self.tokenizer.encode(l, add_special=False, continuation=True) for l in labels]
        if not p_ids or not all(l_ids):
            raise ValueError("the prompt (with BOS) and every label need at least one token")
        with Context(self, n_ctx=len(p_ids) + max(map(len, l_ids)) + 1, n_threads=n_threads) as ctx:
            lps = [ctx.score(p_ids if i == 0 else [], ids)["sum"] for i, ids in enumerate(l_ids)]
        mx = max(lps)
        z = math.fsum(math.exp(v - mx) for v in lps)
        rows = [(labels[i], lps[i], math.exp(lps[i] - mx) / z) for i in range(len(labels))]
        return sorted(rows, key=lambda r: -r[1])

    def perplexity(self, text: str, n_ctx: int = 512, chunks: int = -1,
                   n_threads: int = 0) -> Tuple[float, float, List[float]]:
        """llama-perplexity's estimate (as fm-perplexity): the tokens in
        chunks of n_ctx, each starting with BOS, the second half of each
        scored. Returns (ppl, its standard error, [running ppl per chunk])."""
        ids = self.tokenize(text)
        n_chunks = len(ids) // n_ctx
        if chunks >= 0:
            n_chunks = min(n_chunks, chunks)
        if n_chunks == 0:
            raise ValueError("%d tokens, fewer than one chunk of %d" % (len(ids), n_ctx))
        bos = self.tokenizer.special("bos")
        first = n_ctx // 2
        nll = nll2 = 0.0
        count = 0
        running = []
        with Context(self, n_ctx=n_ctx, n_batch=n_ctx, n_threads=n_threads) as ctx:
            for k in range(n_chunks):
                chunk = ids[k * n_ctx:(k + 1) * n_ctx]
                if bos is not None:
                    chunk[0] = bos
                ctx.clear()
                lp = ctx.score(chunk[:first + 1], chunk[first + 1:])["logprobs"]
                nll -= math.fsum(lp)
                nll2 += math.fsum(v * v for v in lp)
                count += len(lp)
                running.append(math.exp(nll / count))
        mean = nll / count
        var = nll2 / count - mean * mean
        err = math.sqrt(var / (count - 1)) * math.exp(mean) if var > 0 and count > 1 else 0.0
        return math.exp(mean), err, running


    # ---- llama-cpp-python's calls, with its shapes (OpenAI-style dicts) ----

    def _sampling(self, temperature, top_p, top_k, min_p, seed, extra):
        kw = dict(extra)
        kw.update(temperature=temperature, top_p=top_p, top_k=top_k, min_p=min_p)
        if seed is not None:
            kw["seed"] = seed
        return kw

    def _logprobs(self, prompt_ids, ids, top, n_threads):
        """OpenAI's completion logprobs for the generated ids, from one
        scoring decode (fm_context_score)."""
        if not ids:
            return {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
        with Context(self, n_ctx=len(prompt_ids) + len(ids), n_threads=n_threads) as ctx:
            r = ctx.score(prompt_ids, ids, top_k=top)
        pieces = [self.tokenizer.piece(t, render_special=False) for t in ids]
        offsets, at = [], 0
        for p in pieces:
            offsets.append(at)
            at += len(p)
        tops = [{self.tokenizer.piece(t, render_special=False): lp for t, lp in row} for row in r["top"]] \
            if top else [None] * len(ids)
        return {"tokens": pieces, "token_logprobs": r["logprobs"], "top_logprobs": tops, "text_offset": offsets}

    def create_completion(self, prompt, max_tokens=16, temperature=0.8, top_p=0.95, top_k=40, min_p=0.05,
                          stop=None, logprobs=None, seed=None, stream=False, grammar=None, n_ctx=0, n_threads=0,
                          **sampling) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
        """A completion as llama-cpp-python's Llama.create_completion gives
        it: {"id", "object": "text_completion", "created", "model",
        "choices": [{"text", "index", "logprobs", "finish_reason"}], "usage"};
        with stream=True an iterator of such chunks, one per piece of text.
        logprobs=N adds the generated tokens' log-probabilities and their N
        best alternatives (computed by fm_context_score after generating)."""
        p_ids = list(prompt) if isinstance(prompt, (list, tuple)) else self.tokenize(prompt)
        kw = self._sampling(temperature, top_p, top_k, min_p, seed, sampling)
        return self._complete(p_ids, max_tokens, stop, grammar, logprobs, stream, n_ctx, n_threads, kw, chat=False)

    def create_chat_completion(self, messages, max_tokens=256, temperature=0.2, top_p=0.95, top_k=40, min_p=0.05,
                               stop=None, seed=None, response_format=None, stream=False, template=None, tools=None,
                               logprobs=None, n_ctx=0, n_threads=0,
                               **sampling) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
        """An assistant message as Llama.create_chat_completion gives it:
        {"id", "object": "chat.completion", "created", "model", "choices":
        [{"index", "message": {"role": "assistant", "content"},
        "finish_reason"}], "usage"}, through the model's chat template (or
        `template`). response_format={"type": "json_object"[, "schema": S]}
        (or OpenAI's {"type": "json_schema", "json_schema": {"schema": S}})
        constrains the answer to JSON (of schema S). stream=True yields
        "chat.completion.chunk" dicts with deltas."""
        grammar = None
        if response_format:
            kind = response_format.get("type")
            if kind == "json_object":
                grammar = Grammar.from_json_schema(response_format.get("schema") or {"type": "object"}, compact=True)
            elif kind == "json_schema":
                grammar = Grammar.from_json_schema(response_format["json_schema"]["schema"], compact=True)
            elif kind != "text":
                raise ValueError("response_format type %r: use text, json_object or json_schema" % kind)
        p_ids = self.chat_prompt(messages, template=template, tools=tools)
        stops = ["<|im_end|>", "<|im_start|>"] + ([stop] if isinstance(stop, str) else list(stop or []))
        kw = self._sampling(temperature, top_p, top_k, min_p, seed, sampling)
        return self._complete(p_ids, max_tokens, stops, grammar, logprobs, stream, n_ctx, n_threads, kw, chat=True)

    def _complete(self, p_ids, max_tokens, stop, grammar, logprobs, stream, n_ctx, n_threads, kw, chat):
        import time
        import uuid
        cid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        created, model = int(time.time()), getattr(self, "path", "")
        info = {}
        pieces = self.generate(p_ids, n=max_tokens, stop=stop, grammar=grammar, n_ctx=n_ctx, n_threads=n_threads,
                               _info=info, **kw)
        obj = "chat.completion" if chat else "text_completion"

        def usage():
            n = len(info.get("tokens", []))
            return {"prompt_tokens": len(p_ids), "completion_tokens": n, "total_tokens": len(p_ids) + n}

        def choice(text, finish, lp=None, delta=None):
            c = {"index": 0, "finish_reason": finish}
            if chat and delta is not None:
                c["delta"] = delta
            elif chat:
                c["message"] = {"role": "assistant", "content": text}
            else:
                c["text"] = text
            if not chat or lp is not None:
                c["logprobs"] = lp
            return c

        if stream:
            def chunks():
                if chat:
                    yield {"id": cid, "object": obj + ".chunk", "created": created, "model": model,
                           "choices": [choice(None, None, delta={"role": "assistant"})]}
                for piece in pieces:
                    yield {"id": cid, "object": obj + (".chunk" if chat else ""), "created": created, "model": model,
                           "choices": [choice(piece, None, delta={"content": piece} if chat else None)]}
                yield {"id": cid, "object": obj + (".chunk" if chat else ""), "created": created, "model": model,
                       "choices": [choice("", info["finish_reason"], delta={} if chat else None)]}
            return chunks()
        text = "".join(pieces)
        lp = self._logprobs(p_ids, info["tokens"], logprobs, n_threads) if logprobs is not None else None
        return {"id": cid, "object": obj, "created": created, "model": model,
                "choices": [choice(text, info["finish_reason"], lp)], "usage": usage()}


class Sampler(_Closing):
    """A chain of sampling steps (fm_sampler). Sampler(**params) is
    llama.cpp's default chain for fm_sampler_params fields
    (SAMPLING_OPTIONS: temperature, top_k, top_p, min_p, seed, penalties,
    DRY, mirostat, ...); Sampler.chain(seed) is an empty chain that the
    step methods build, each returning the sampler:

        s = fm.Sampler.chain(seed=1).top_k(40).top_p(0.9).temperature(0.7).dist()
    """

    def __init__(self, tokenizer=None, logit_bias=None, **params):
        unknown = set(params) - set(SAMPLING_OPTIONS)
        if unknown:
            raise TypeError("unknown sampling options: %s" % ", ".join(sorted(unknown)))
        sp = _init(_SamplerParams, _lib.fm_sampler_params_init)
        for k, v in params.items():
            setattr(sp, k, v)
        if tokenizer is not None:
            sp.tokenizer = tokenizer._live()
        self._keep = [tokenizer]
        bias = (_LogitBias * max(1, len(logit_bias or {})))(*[_LogitBias(int(k), float(v))
                                                               for k, v in (logit_bias or {}).items()])
        if logit_bias:
            sp.logit_bias, sp.n_logit_bias = bias, len(logit_bias)
        self._h = ctypes.c_void_p()
        _check(_lib.fm_sampler_new(ctypes.byref(sp), ctypes.byref(self._h)))

    @classmethod
    def chain(cls, seed: int = 0) -> "Sampler":
        s = cls.__new__(cls)
        s._keep = []
        s._h = ctypes.c_void_p()
        _check(_lib.fm_sampler_new_chain(seed, ctypes.byref(s._h)))
        return s

    def _live(self):
        if not getattr(self, "_h", None):
            raise ClosedError("sampler")
        return self._h

    def close(self) -> None:
        if getattr(self, "_h", None):
            _lib.fm_sampler_free(self._h)
            self._h = None

    def _step(self, step, value=0.0):
        _check(_lib.fm_sampler_add(self._live(), step, value))
        return self

    def top_k(self, k):
        return self._step(0, k)

    def top_p(self, p):
        return self._step(1, p)

    def min_p(self, p):
        return self._step(2, p)

    def temperature(self, t):
        return self._step(3, t)

    def greedy(self):
        return self._step(4)

    def dist(self):
        return self._step(5)

    def typical_p(self, p):
        return self._step(6, p)

    def top_n_sigma(self, n):
        return self._step(7, n)

    def temp_ext(self, t, delta, exponent=1.0):
        _check(_lib.fm_sampler_add_temp_ext(self._live(), t, delta, exponent))
        return self

    def xtc(self, probability, threshold, min_keep=1):
        _check(_lib.fm_sampler_add_xtc(self._live(), probability, threshold, min_keep))
        return self

    def penalties(self, last_n=64, repeat=1.0, frequency=0.0, presence=0.0):
        _check(_lib.fm_sampler_add_penalties(self._live(), last_n, repeat, frequency, presence))
        return self

    def dry(self, tokenizer, multiplier=0.8, base=1.75, allowed_length=2, last_n=-1, breakers=("\n", ":", '"', "*")):
        enc = [b.encode() for b in breakers]
        arr = (ctypes.c_char_p * max(1, len(enc)))(*enc)
        _check(_lib.fm_sampler_add_dry(self._live(), tokenizer._live(), multiplier, base, allowed_length, last_n,
                                       arr, len(enc)))
        self._keep.append(tokenizer)
        return self

    def logit_bias(self, bias):
        arr = (_LogitBias * max(1, len(bias)))(*[_LogitBias(int(k), float(v)) for k, v in bias.items()])
        _check(_lib.fm_sampler_add_logit_bias(self._live(), arr, len(bias)))
        return self

    def mirostat(self, tau=5.0, eta=0.1, m=100):
        _check(_lib.fm_sampler_add_mirostat(self._live(), tau, eta, m))
        return self

    def mirostat_v2(self, tau=5.0, eta=0.1):
        _check(_lib.fm_sampler_add_mirostat_v2(self._live(), tau, eta))
        return self

    def grammar(self, grammar, tokenizer):
        """The output must follow `grammar` (a Grammar) over `tokenizer`'s tokens."""
        _check(_lib.fm_sampler_add_grammar(self._live(), grammar._live(), tokenizer._live()))
        self._keep += [grammar, tokenizer]
        return self

    @property
    def steps(self) -> List[str]:
        h = self._live()
        return [_lib.fm_sampler_step_name(h, i).decode() for i in range(_lib.fm_sampler_n_steps(h))]

    def sample(self, ctx: "Context", i: int = -1) -> int:
        """The token picked from context `ctx`'s logits row i (and accepted:
        stateful steps see it)."""
        tok = ctypes.c_int32()
        p = _lib.fm_context_logits(ctx._live(), i)
        if not p:
            raise Error(-1)
        _check(_lib.fm_sampler_sample(self._live(), p, ctx.n_vocab, ctypes.byref(tok)))
        return tok.value

    def accept(self, token: int, skip_constraints: bool = False) -> None:
        """Tells the steps about a token chosen elsewhere (e.g. the prompt's)."""
        _check(_lib.fm_sampler_accept(self._live(), token, 1 if skip_constraints else 0))

    def reset(self):
        _lib.fm_sampler_reset(self._live())

    def set_seed(self, seed):
        _lib.fm_sampler_set_seed(self._live(), seed)

    def clone(self) -> "Sampler":
        c = Sampler.__new__(Sampler)
        c._keep = list(self._keep)
        c._h = ctypes.c_void_p()
        _check(_lib.fm_sampler_clone(self._live(), ctypes.byref(c._h)))
        return c


class Grammar(_Closing):
    """A compiled output constraint for generate(grammar=...) and the
    completion calls: Grammar.from_json_schema(schema) (a dict or JSON
    text), Grammar.from_gbnf(text, root="root"), Grammar.from_regex(re)."""

    def __init__(self):
        self._h = ctypes.c_void_p()

    @classmethod
    def from_json_schema(cls, schema: Union[dict, str], compact: bool = False) -> "Grammar":
        text = (schema if isinstance(schema, str) else json.dumps(schema)).encode()
        g = cls()
        _check(_lib.fm_grammar_from_json_schema(text, len(text), 1 if compact else 0, ctypes.byref(g._h)))
        return g

    @classmethod
    def from_gbnf(cls, text: str, root: Optional[str] = None) -> "Grammar":
        data = text.encode()
        g = cls()
        _check(_lib.fm_grammar_parse_gbnf(data, len(data), root.encode() if root else None, ctypes.byref(g._h)))
        return g

    @classmethod
    def from_regex(cls, pattern: str) -> "Grammar":
        data = pattern.encode()
        g = cls()
        _check(_lib.fm_grammar_from_regex(data, len(data), ctypes.byref(g._h)))
        return g

    def _live(self):
        if not getattr(self, "_h", None):
            raise ClosedError("grammar")
        return self._h

    def close(self) -> None:
        if getattr(self, "_h", None):
            _lib.fm_grammar_free(self._h)
            self._h = None


class ChatTemplate(_Closing):
    """A compiled chat template (Jinja text, rendered as transformers'
    apply_chat_template does). Use as a context manager or call close().

        with fm.ChatTemplate.builtin("chatml") as t:
            t.render([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    """

    def __init__(self, text):
        data = text.encode("utf-8")
        self._h = ctypes.c_void_p()
        _check(_lib.fm_chat_template_new(data, len(data), ctypes.byref(self._h)))

    @classmethod
    def builtin(cls, name: str) -> "ChatTemplate":
        """A built-in template: see builtin_names()."""
        t = cls.__new__(cls)
        t._h = ctypes.c_void_p()
        _check(_lib.fm_chat_template_builtin(name.encode(), ctypes.byref(t._h)))
        return t

    @staticmethod
    def builtin_names() -> List[str]:
        names, i = [], 0
        while _lib.fm_chat_template_builtin_name(i):
            names.append(_lib.fm_chat_template_builtin_name(i).decode())
            i += 1
        return names

    def close(self) -> None:
        if getattr(self, "_h", None):
            _lib.fm_chat_template_free(self._h)
            self._h = None

    def render(self, messages, add_generation_prompt=False, bos_token="", eos_token="", tools=None, variables=None,
               now=0):
        """The prompt text for `messages` (a list of dicts, any members).
        tools: a list of tool definitions; variables: a dict of further
        template variables; now: strftime_now's clock (seconds, 0 = now).
        Template errors raise FmError with "line L, column C: ..."."""
        if not getattr(self, "_h", None):
            raise ClosedError("chat template")
        cp = _init(_ChatParams, _lib.fm_chat_params_init)
        cp.add_generation_prompt = 1 if add_generation_prompt else 0
        keep = [x.encode() if x is not None else None for x in (bos_token, eos_token)]
        keep += [json.dumps(x).encode() if x is not None else None for x in (tools, variables)]
        cp.bos_token, cp.eos_token, cp.tools, cp.variables = keep
        cp.now = int(now)
        msgs = json.dumps(messages).encode()
        n = ctypes.c_size_t()
        s = _lib.fm_chat_render_json(self._h, msgs, len(msgs), ctypes.byref(cp), None, 0, ctypes.byref(n))
        if s not in (0, _STATUS_BUFFER_TOO_SMALL):
            _check(s)
        buf = ctypes.create_string_buffer(max(n.value, 1))
        _check(_lib.fm_chat_render_json(self._h, msgs, len(msgs), ctypes.byref(cp), buf, n.value, ctypes.byref(n)))
        return buf.raw[:n.value].decode("utf-8")


class Context(_Closing):
    """A KV cache over a model, holding up to n_seq_max sequences (ids
    0..n_seq_max-1) in n_ctx shared cells. The context keeps its model
    alive. Use as a context manager or call close().

        with fm.Context(model, n_ctx=256, n_seq_max=2) as ctx:
            ctx.decode(model.tokenize("Once upon a time"))      # sequence 0
            ctx.seq_cp(0, 1)                                    # share it with 1
            ctx.decode_batch([(403, fm.POS_NEXT, [0], True), (407, fm.POS_NEXT, [1], True)])
            ctx.logits(0), ctx.logits(1)                        # one row per sequence
            blob = ctx.save_state()                             # bytes; load_state(blob) restores
    """

    def __init__(self, model, n_ctx=0, n_batch=512, n_threads=0, n_seq_max=1, kv_type="f32",
                 batch_invariant=False, abort=None):
        """abort() is asked before every layer of a decode; True stops it
        (FmError FM_STATUS_ABORTED, the cache as before the call)."""
        cp = _init(_ContextParams, _lib.fm_context_params_init)
        if abort is not None:
            self._abort = _abort_fn(lambda user: 1 if abort() else 0)  # kept alive with the context
            cp.abort = self._abort
        cp.n_ctx, cp.n_batch, cp.n_threads, cp.n_seq_max = n_ctx, n_batch, n_threads, n_seq_max
        cp.kv_type = _KV_TYPES[kv_type]
        cp.flags = 1 if batch_invariant else 0
        self._h = ctypes.c_void_p()
        self._batch = ctypes.c_void_p()
        model._use()  # the model outlives its contexts, even past its close()
        self._model = model
        try:
            _check(_lib.fm_context_new(model._h, ctypes.byref(cp), ctypes.byref(self._h)))
            _check(_lib.fm_batch_new(ctypes.byref(self._batch)))
        except Error:
            self.close()
            raise
        self.n_vocab = _lib.fm_tokenizer_n_vocab(model.tokenizer._h)

    def close(self) -> None:
        """Frees the context (further calls raise ClosedError) and lets go
        of its model."""
        if getattr(self, "_batch", None):
            _lib.fm_batch_free(self._batch)
            self._batch = None
        if getattr(self, "_h", None):
            _lib.fm_context_free(self._h)
            self._h = None
        model, self._model = getattr(self, "_model", None), None
        if model is not None:
            model._unuse()

    def _live(self):
        if not getattr(self, "_h", None):
            raise ClosedError("context")
        return self._h

    def decode(self, ids: Ids, all_logits: bool = False) -> None:
        """Evaluates `ids` as sequence 0 after its last position."""
        arr = (ctypes.c_int32 * len(ids))(*ids)
        _check(_lib.fm_context_decode(self._live(), arr, len(ids), _LOGITS_ALL if all_logits else _LOGITS_LAST))

    def decode_batch(self, entries: Sequence[Tuple[int, int, Sequence[int], bool]]) -> None:
        """Evaluates (token, pos, seq_ids, keep_logits) entries in one forward
        pass; pos may be POS_NEXT. logits(i) is then entry i's row."""
        h = self._live()
        _lib.fm_batch_clear(self._batch)
        for token, pos, seqs, keep in entries:
            arr = (ctypes.c_int32 * len(seqs))(*seqs)
            _check(_lib.fm_batch_add(self._batch, token, pos, arr, len(seqs), 1 if keep else 0))
        _check(_lib.fm_context_decode_batch(h, self._batch))

    def logits(self, i: int = -1) -> List[float]:
        """Logits after token i of the last batch, as a list of floats."""
        p = _lib.fm_context_logits(self._live(), i)
        if not p:
            raise FmError(-1)
        return p[:self.n_vocab]

    @property
    def n_past(self) -> int:
        return _lib.fm_context_n_past(self._live())

    def clear(self):
        _check(_lib.fm_context_clear(self._live()))

    def seq_rm(self, seq, p0=0, p1=-1):
        _check(_lib.fm_context_seq_rm(self._live(), seq, p0, p1))

    def seq_cp(self, src, dst, p0=0, p1=-1):
        _check(_lib.fm_context_seq_cp(self._live(), src, dst, p0, p1))

    def seq_keep(self, seq):
        _check(_lib.fm_context_seq_keep(self._live(), seq))

    def seq_shift(self, seq, delta, p0=0, p1=-1):
        _check(_lib.fm_context_seq_shift(self._live(), seq, p0, p1, delta))

    def seq_pos_range(self, seq):
        """(first, last) position of `seq`, (-1, -1) when empty."""
        lo, hi = ctypes.c_int32(), ctypes.c_int32()
        _check(_lib.fm_context_seq_pos_range(self._live(), seq, ctypes.byref(lo), ctypes.byref(hi)))
        return lo.value, hi.value

    def seq_tokens(self, seq: int = 0) -> List[int]:
        n = ctypes.c_size_t()
        s = _lib.fm_context_seq_tokens(self._live(), seq, None, 0, ctypes.byref(n))
        if s not in (0, _STATUS_BUFFER_TOO_SMALL):
            _check(s)
        buf = (ctypes.c_int32 * max(n.value, 1))()
        _check(_lib.fm_context_seq_tokens(self._live(), seq, buf, n.value, ctypes.byref(n)))
        return list(buf[:n.value])

    def prompt(self, ids: Ids, seq: int = 0) -> int:
        """Brings sequence `seq` to the prompt `ids`, decoding only what
        differs from what it holds (the common prefix stays cached); the
        logits of the last prompt token are then ready. Returns how many
        prompt tokens were reused."""
        have = self.seq_tokens(seq)
        common = 0
        while common < len(have) and common < len(ids) and have[common] == ids[common]:
            common += 1
        if common == len(ids):
            common -= 1  # the last token is evaluated again for its logits
        self.seq_rm(seq, common, -1)
        rest = ids[common:]
        self.decode_batch([(t, common + i, [seq], i + 1 == len(rest)) for i, t in enumerate(rest)])
        return common

    def generate(self, prompt: Ids, sampler: "Sampler", n: int = 128, stop_at_eog: bool = True) -> Iterator[int]:
        """Yields up to n token ids after `prompt` (ids) on sequence 0,
        sampled by `sampler`; the prompt's common prefix with the cache is
        not decoded again, and the generated tokens stay cached, so a next
        prompt that extends this one costs only its new tokens."""
        self.reused = self.prompt(list(prompt))
        tok_h = self._model.tokenizer._h
        for i in range(n):
            t = sampler.sample(self, -1)
            if stop_at_eog and _lib.fm_tokenizer_is_eog(tok_h, t):
                return
            yield t
            self.decode([t])

    def score(self, prompt: Ids, continuation: Ids, seq: int = 0, top_k: int = 0) -> Dict[str, Any]:
        """fm_context_score: appends `prompt` (ids; [] = the prompt is what
        sequence `seq` holds) and scores the `continuation` ids in one
        batched decode; the prompt stays cached, the continuation does not.
        A dict: logprobs, sum, ranks, and with top_k, top (per token
        [(id, logprob), ...] best first)."""
        n = len(continuation)
        sp = _init(_ScoreParams, _lib.fm_score_params_init)
        lps, ranks = (ctypes.c_double * max(n, 1))(), (ctypes.c_int32 * max(n, 1))()
        tt, tl = (ctypes.c_int32 * max(n * top_k, 1))(), (ctypes.c_double * max(n * top_k, 1))()
        sp.seq, sp.top_k, sp.logprobs, sp.ranks = seq, top_k, lps, ranks
        if top_k:
            sp.top_tokens, sp.top_logprobs = tt, tl
        total = ctypes.c_double()
        p_arr = (ctypes.c_int32 * max(len(prompt), 1))(*prompt)
        c_arr = (ctypes.c_int32 * max(n, 1))(*continuation)
        _check(_lib.fm_context_score(self._live(), p_arr, len(prompt), c_arr, n, ctypes.byref(sp),
                                     ctypes.byref(total)))
        out = {"logprobs": list(lps[:n]), "sum": total.value, "ranks": list(ranks[:n])}
        if top_k:
            out["top"] = [[(tt[i * top_k + j], tl[i * top_k + j]) for j in range(top_k)] for i in range(n)]
        return out

    def save_state(self, seq: int = STATE_ALL) -> bytes:
        """The state of `seq` (or of the whole context) as bytes."""
        need = ctypes.c_size_t()
        s = _lib.fm_context_state_save(self._live(), seq, None, 0, ctypes.byref(need))
        if s != _STATUS_BUFFER_TOO_SMALL:
            _check(s)
        buf = ctypes.create_string_buffer(need.value)
        n = ctypes.c_size_t()
        _check(_lib.fm_context_state_save(self._live(), seq, buf, need.value, ctypes.byref(n)))
        return buf.raw[:n.value]

    def load_state(self, data: bytes, seq: int = STATE_ALL) -> None:
        _check(_lib.fm_context_state_load(self._live(), seq, bytes(data), len(data)))

    def save_state_file(self, path, seq=STATE_ALL):
        _check(_lib.fm_context_state_save_file(self._live(), seq, os.fsencode(path)))

    def load_state_file(self, path, seq=STATE_ALL):
        _check(_lib.fm_context_state_load_file(self._live(), seq, os.fsencode(path)))
