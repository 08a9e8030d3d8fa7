/* policy/tokenizer/tokenizer.h: byte-level BPE tokenizers read from a Hugging Face tokenizer.json.
 *
 * Supported (anything else is refused at load time with an error naming the field):
 *   normalizer     null | NFC | Sequence of NFC (or empty)
 *   pre_tokenizer  ByteLevel | Split (Regex or String; Isolated, Removed, MergedWithPrevious,
 *                  MergedWithNext, Contiguous; invert) | Sequence of those, ByteLevel last
 *   model          BPE with vocab, merges ("a b" strings or ["a","b"] pairs), ignore_merges, unk_token
 *   decoder        ByteLevel (alone or inside a Sequence)
 *   added_tokens   matched leftmost-longest before normalization, as HF does (lstrip, rstrip,
 *                  single_word honoured)
 * Post-processors (BOS insertion) are not applied: ids are those of HF's
 * encode(text, add_special_tokens=False). Chat templates (policy/tokenizer/chat.h) add BOS where a family wants it.
 *
 * A tok_tokenizer keeps per-call scratch space and a cache of encoded pieces, so one tokenizer must
 * not be used by two threads at once; load one per thread (or lock) for concurrent encoding. */
#ifndef GRPO_TOKENIZER_H
#define GRPO_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct tok_tokenizer tok_tokenizer;

enum {
    TOK_SPECIAL = 1,      /* encode: match special added tokens in the text (HF's default) */
    TOK_SKIP_SPECIAL = 2, /* decode: leave out special added tokens */
};

#define TOK_MAX_EOS 8

/* What a model needs to know about its tokenizer. Ids are -1 when unknown. */
typedef struct {
    int vocab_size; /* one past the largest id */
    int bos_id, eos_id, pad_id;
    int n_eos;                    /* every id that ends generation (generation_config.json first) */
    int eos_ids[TOK_MAX_EOS];
} tok_info;

/* Loads dir/tokenizer.json, then dir/tokenizer_config.json and dir/generation_config.json when present
 * (bos, eos, pad). Errors name the file and the field. */
int tok_load(tok_tokenizer **out, const char *dir, grpo_err *err);

/* Loads a tokenizer from tokenizer.json bytes; path only names the source in errors. */
int tok_load_json(tok_tokenizer **out, const char *json, size_t len, const char *path, grpo_err *err);

/* Frees the tokenizer (NULL is fine). */
void tok_free(tok_tokenizer *t);

/* Vocabulary size and special ids. */
const tok_info *tok_get_info(const tok_tokenizer *t);

/* Encodes len bytes of UTF-8 text into a malloc'd id array (*ids, *n; *ids may be NULL when *n == 0).
 * flags: TOK_SPECIAL matches special added tokens; without it they are split as ordinary text
 * (non-special added tokens are matched either way). Invalid UTF-8 is an error. */
int tok_encode(tok_tokenizer *t, const char *text, size_t len, int flags, int **ids, size_t *n, grpo_err *err);

/* Decodes ids into malloc'd NUL-terminated text (*len excludes the NUL). Bytes that are not valid
 * UTF-8 become U+FFFD, one per maximal invalid subpart, exactly as HF does. flags: TOK_SKIP_SPECIAL.
 * An id outside the vocabulary (see tok_set_model_vocab) is an error naming its position. */
int tok_decode(const tok_tokenizer *t, const int *ids, size_t n, int flags, char **text, size_t *len, grpo_err *err);

/* The id of a token given by its text (an added token's content, or a vocab entry in its
 * tokenizer.json spelling), or -1. */
int tok_token_id(const tok_tokenizer *t, const char *token);

/* The bytes a token decodes to (*len set), or NULL for an id outside the vocabulary. */
const char *tok_token_bytes(const tok_tokenizer *t, int id, size_t *len);

/* Tells the tokenizer the model's vocabulary size n. Real checkpoints (Qwen2.5, Qwen3) pad their
 * embedding beyond the tokenizer's ids; a policy can sample such an id. Ids in [vocab_size, n), and
 * ids inside the tokenizer's range that no token has, then decode to empty text, as Hugging Face's
 * tokenizers do; ids outside [0, n) stay errors. Without a call every id no token has is an error. */
void tok_set_model_vocab(tok_tokenizer *t, int n);

/* 1 when id is a special added token. */
int tok_is_special(const tok_tokenizer *t, int id);

/* ---- streaming decode: text as tokens arrive, never splitting a UTF-8 character ---- */

typedef struct {
    const tok_tokenizer *tok;
    int flags;
    unsigned char held[4]; /* the start of a UTF-8 sequence still waiting for its continuation bytes */
    int n_held;
    char *buf; /* output of the last call */
    size_t cap;
} tok_stream;

/* Starts a stream over tokenizer t (flags as for tok_decode). */
void tok_stream_init(tok_stream *s, const tok_tokenizer *t, int flags);

/* Adds one id; returns the text that is now complete (NUL-terminated, valid until the next call) in
 * *text and *len. The concatenation of every call plus tok_stream_finish equals tok_decode. */
int tok_stream_push(tok_stream *s, int id, const char **text, size_t *len, grpo_err *err);

/* Ends the stream: held bytes that never completed become U+FFFD. */
int tok_stream_finish(tok_stream *s, const char **text, size_t *len, grpo_err *err);

/* Frees the stream's buffer. */
void tok_stream_free(tok_stream *s);

#endif
