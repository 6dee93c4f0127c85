/* Tests of the C API, compiled as C: status codes, error messages, NULL handling, tokenize
   sizes, and greedy generation on ko-mini-a against llama.cpp's reference ids (skipped when
   ../shared/models is absent). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ondo.h>

static int g_failed = 0;
static int g_checks = 0;

#define CHECK(cond)                                                              \
  do {                                                                           \
    ++g_checks;                                                                  \
    if (!(cond)) {                                                               \
      ++g_failed;                                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", __FILE__,    \
              __LINE__, #cond, ondo_last_error());                               \
    }                                                                            \
  } while (0)

#define CHECK_STATUS(expr, want)                                                 \
  do {                                                                           \
    ondo_status got_ = (expr);                                                   \
    ++g_checks;                                                                  \
    if (got_ != (want)) {                                                        \
      ++g_failed;                                                                \
      fprintf(stderr, "%s:%d: %s gave %s, want %s (last error: %s)\n", __FILE__, \
              __LINE__, #expr, ondo_status_string(got_), ondo_status_string(want), \
              ondo_last_error());                                                \
    }                                                                            \
  } while (0)

/* Collects what the callback receives; stops after stop_after tokens when > 0. */
typedef struct {
  int32_t ids[512];
  int n_ids;
  char text[4096];
  size_t n_text;
  int stop_after;
} collector;

static int collect(const char* text, size_t len, int32_t token_id, void* user_data) {
  collector* c = (collector*)user_data;
  if (token_id >= 0 && c->n_ids < 512) c->ids[c->n_ids++] = token_id;
  if (c->n_text + len < sizeof(c->text)) {
    memcpy(c->text + c->n_text, text, len);
    c->n_text += len;
    c->text[c->n_text] = '\0';
  }
  return !(c->stop_after > 0 && c->n_ids >= c->stop_after);
}

static int same_ids(const int32_t* a, int na, const int32_t* b, int nb) {
  return na == nb && memcmp(a, b, (size_t)na * sizeof(int32_t)) == 0;
}

static void test_without_model(void) {
  CHECK(ondo_version() != NULL && strlen(ondo_version()) >= 5);
  CHECK(strcmp(ondo_status_string(ONDO_OK), "ok") == 0);
  CHECK(strcmp(ondo_status_string(ONDO_CORRUPT), "corrupt") == 0);
  CHECK(ONDO_OUT_OF_RANGE == 7 && ONDO_INTERNAL == 8);

  ondo_model* model = (ondo_model*)1;
  CHECK_STATUS(ondo_model_load(NULL, &model), ONDO_INVALID_ARGUMENT);
  CHECK(model == NULL);
  CHECK(strlen(ondo_last_error()) > 0);
  CHECK_STATUS(ondo_model_load("x", NULL), ONDO_INVALID_ARGUMENT);

  CHECK_STATUS(ondo_model_load("/nonexistent/dir/missing-model.gguf", &model), ONDO_NOT_FOUND);
  CHECK(model == NULL);
  CHECK(strstr(ondo_last_error(), "missing-model.gguf") != NULL);

  /* Not a GGUF file. */
  char path[] = "/tmp/ondo_capi_test_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd >= 0) {
    const char junk[] = "this is not a gguf file, just some bytes to read";
    CHECK(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
    close(fd);
    ondo_status st = ondo_model_load(path, &model);
    CHECK(st == ONDO_CORRUPT);
    CHECK(model == NULL);
    CHECK(strlen(ondo_last_error()) > 0);
    unlink(path);
  }

  ondo_session* session = (ondo_session*)1;
  CHECK_STATUS(ondo_session_create(NULL, NULL, &session), ONDO_INVALID_ARGUMENT);
  CHECK(session == NULL);
  CHECK_STATUS(ondo_generate(NULL, "x", NULL, NULL, NULL), ONDO_INVALID_ARGUMENT);
  size_t n = 0;
  CHECK_STATUS(ondo_tokenize(NULL, "x", 1, 0, 0, NULL, 0, &n), ONDO_INVALID_ARGUMENT);
  ondo_generate_stats stats;
  CHECK_STATUS(ondo_session_last_stats(NULL, &stats), ONDO_INVALID_ARGUMENT);
  CHECK(ondo_model_n_vocab(NULL) == 0);
  CHECK(ondo_session_n_ctx(NULL) == 0);
  ondo_model_free(NULL);
  ondo_session_free(NULL);

  ondo_session_params sp = ondo_session_params_default();
  CHECK(sp.n_ctx == 0 && sp.n_threads == 0 && sp.budget_bytes == 0);
  CHECK(sp.kv_type == ONDO_KV_F16);
  ondo_generate_params gp = ondo_generate_params_default();
  CHECK(gp.max_tokens > 0 && gp.temperature > 0.0f && gp.chat == 0 && gp.raw == 0 && gp.system == NULL);
  CHECK(gp.ctx_full == ONDO_CTX_FULL_STOP && gp.keep == 0);
  CHECK(gp.post == -1 && gp.spacing == -1);
}

/* ko-mini-a, first prompt of ko-mini-a.f16.ref.json (llama.cpp, greedy). */
static const char kRawPrompt[] = "<|user|>12시 땡!<|assistant|>";
static const int32_t kPromptIds[] = {1, 3, 2905, 2977, 3003, 2936, 2905, 3841, 3137, 4};
static const int32_t kGreedyIds[] = {2917, 3074, 1310, 2739, 449, 1520, 2906, 2};
static const char kGreedyText[] = "아직 마음의 준비가 필요하겠어요.";

static void test_with_model(const char* model_path) {
  ondo_model* model = NULL;
  CHECK_STATUS(ondo_model_load(model_path, &model), ONDO_OK);
  if (model == NULL) return;
  CHECK(ondo_model_n_vocab(model) == 4096);

  /* Tokenize: size query, too small, exact. */
  size_t n = 0;
  int32_t ids[64];
  const int n_prompt = (int)(sizeof(kPromptIds) / sizeof(kPromptIds[0]));
  CHECK_STATUS(ondo_tokenize(model, kRawPrompt, strlen(kRawPrompt), 1, 1, NULL, 0, &n), ONDO_OUT_OF_RANGE);
  CHECK(n == (size_t)n_prompt);
  CHECK_STATUS(ondo_tokenize(model, kRawPrompt, strlen(kRawPrompt), 1, 1, ids, 4, &n), ONDO_OUT_OF_RANGE);
  CHECK(n == (size_t)n_prompt);
  CHECK_STATUS(ondo_tokenize(model, kRawPrompt, strlen(kRawPrompt), 1, 1, ids, 64, &n), ONDO_OK);
  CHECK(same_ids(ids, (int)n, kPromptIds, n_prompt));
  CHECK_STATUS(ondo_tokenize(model, kRawPrompt, strlen(kRawPrompt), 0, 1, ids, 64, &n), ONDO_OK);
  CHECK(n == (size_t)n_prompt - 1 && ids[0] == 3);
  CHECK_STATUS(ondo_tokenize(model, "\xff\xfe", 2, 1, 1, ids, 64, &n), ONDO_INVALID_ARGUMENT);
  CHECK_STATUS(ondo_tokenize(model, "", 0, 0, 0, NULL, 0, &n), ONDO_OK);
  CHECK(n == 0);

  /* A budget below the plan is refused with the figures. */
  ondo_session_params sp = ondo_session_params_default();
  sp.n_ctx = 128;
  sp.n_threads = 2;
  sp.budget_bytes = 1024;
  ondo_session* session = NULL;
  CHECK_STATUS(ondo_session_create(model, &sp, &session), ONDO_OUT_OF_MEMORY);
  CHECK(session == NULL);
  CHECK(strstr(ondo_last_error(), "budget 1024 bytes") != NULL);
  CHECK(strstr(ondo_last_error(), "weights ") != NULL);
  CHECK(strstr(ondo_last_error(), "KV cache ") != NULL);
  CHECK(strstr(ondo_last_error(), "scratch ") != NULL);
  CHECK(strstr(ondo_last_error(), "total ") != NULL);
  CHECK(strstr(ondo_last_error(), "budget_bytes") != NULL);
  /* A budget that holds the plan (the model is ~10 MiB), and "no limit in effect". */
  sp.budget_bytes = (uint64_t)1 << 30;
  CHECK_STATUS(ondo_session_create(model, &sp, &session), ONDO_OK);
  CHECK(session != NULL);
  ondo_session_free(session);
  session = NULL;
  sp.budget_bytes = UINT64_MAX;
  CHECK_STATUS(ondo_session_create(model, &sp, &session), ONDO_OK);
  ondo_session_free(session);
  session = NULL;
  /* The 8-bit KV cache; an unknown element type is refused. */
  sp.kv_type = ONDO_KV_Q8_0;
  CHECK_STATUS(ondo_session_create(model, &sp, &session), ONDO_OK);
  CHECK(session != NULL);
  ondo_session_free(session);
  session = NULL;
  sp.kv_type = (ondo_kv_type)9;
  CHECK_STATUS(ondo_session_create(model, &sp, &session), ONDO_INVALID_ARGUMENT);
  CHECK(session == NULL);
  sp.kv_type = ONDO_KV_F16;

  /* 0: the default budget (cgroup limit or physical RAM, minus the margin). */
  sp.budget_bytes = 0;
  CHECK_STATUS(ondo_session_create(model, &sp, &session), ONDO_OK);
  if (session == NULL) {
    ondo_model_free(model);
    return;
  }
  CHECK(ondo_session_n_ctx(session) == 128);
  ondo_generate_stats stats;
  CHECK_STATUS(ondo_session_last_stats(session, &stats), ONDO_NOT_FOUND);

  /* Raw prompt, greedy: exactly llama.cpp's ids and text. */
  ondo_generate_params gp = ondo_generate_params_default();
  gp.temperature = 0.0f;
  gp.max_tokens = 32;
  gp.raw = 1;
  collector* c = (collector*)calloc(1, sizeof(collector));
  CHECK_STATUS(ondo_generate(session, kRawPrompt, &gp, collect, c), ONDO_OK);
  const int n_greedy = (int)(sizeof(kGreedyIds) / sizeof(kGreedyIds[0]));
  CHECK(same_ids(c->ids, c->n_ids, kGreedyIds, n_greedy));
  CHECK(strcmp(c->text, kGreedyText) == 0);
  CHECK_STATUS(ondo_session_last_stats(session, &stats), ONDO_OK);
  CHECK(stats.finish_reason == ONDO_FINISH_STOP);
  CHECK(stats.n_prompt_tokens == n_prompt);
  CHECK(stats.n_generated_tokens == n_greedy);

  /* With the 8-bit KV cache: the same greedy answer on this prompt. */
  sp.kv_type = ONDO_KV_Q8_0;
  ondo_session* q8_session = NULL;
  CHECK_STATUS(ondo_session_create(model, &sp, &q8_session), ONDO_OK);
  sp.kv_type = ONDO_KV_F16;
  if (q8_session != NULL) {
    memset(c, 0, sizeof(*c));
    CHECK_STATUS(ondo_generate(q8_session, kRawPrompt, &gp, collect, c), ONDO_OK);
    CHECK(same_ids(c->ids, c->n_ids, kGreedyIds, n_greedy));
    ondo_session_free(q8_session);
  }

  /* The same question through the detected ko-mini chat template (each call starts afresh). */
  memset(c, 0, sizeof(*c));
  gp.raw = 0;
  CHECK_STATUS(ondo_generate(session, "12시 땡!", &gp, collect, c), ONDO_OK);
  CHECK(same_ids(c->ids, c->n_ids, kGreedyIds, n_greedy));
  memset(c, 0, sizeof(*c));
  gp.chat = 1;
  CHECK_STATUS(ondo_generate(session, "12시 땡!", &gp, collect, c), ONDO_OK);
  CHECK(same_ids(c->ids, c->n_ids, kGreedyIds, n_greedy));

  /* The callback stops generation. */
  memset(c, 0, sizeof(*c));
  c->stop_after = 3;
  CHECK_STATUS(ondo_generate(session, "12시 땡!", &gp, collect, c), ONDO_OK);
  CHECK(c->n_ids == 3);
  CHECK_STATUS(ondo_session_last_stats(session, &stats), ONDO_OK);
  CHECK(stats.finish_reason == ONDO_FINISH_CANCELLED && stats.n_generated_tokens == 3);

  /* max_tokens, and no callback at all. */
  gp.max_tokens = 2;
  CHECK_STATUS(ondo_generate(session, "12시 땡!", &gp, NULL, NULL), ONDO_OK);
  CHECK_STATUS(ondo_session_last_stats(session, &stats), ONDO_OK);
  CHECK(stats.finish_reason == ONDO_FINISH_LENGTH && stats.n_generated_tokens == 2);

  /* Loop stop: the raw continuation of this prompt repeats " 1일," (llama.cpp's greedy
     output); with loop_stop on it ends early with ONDO_FINISH_LOOP, off it runs to max_tokens. */
  gp.max_tokens = 64;
  gp.raw = 1;
  gp.chat = 0;
  gp.loop_stop = 1;
  CHECK_STATUS(ondo_generate(session, "서울은 대한민국의", &gp, NULL, NULL), ONDO_OK);
  CHECK_STATUS(ondo_session_last_stats(session, &stats), ONDO_OK);
  CHECK(stats.finish_reason == ONDO_FINISH_LOOP && stats.n_generated_tokens < 32);
  gp.loop_stop = -1; /* raw: off by default */
  CHECK_STATUS(ondo_generate(session, "서울은 대한민국의", &gp, NULL, NULL), ONDO_OK);
  CHECK_STATUS(ondo_session_last_stats(session, &stats), ONDO_OK);
  CHECK(stats.finish_reason == ONDO_FINISH_LENGTH && stats.n_generated_tokens == 64);
  gp.script = ONDO_SCRIPT_KO;
  CHECK_STATUS(ondo_generate(session, "서울은 대한민국의", &gp, NULL, NULL), ONDO_OK);
  gp.script = (ondo_script)7;
  CHECK_STATUS(ondo_generate(session, "x", &gp, NULL, NULL), ONDO_INVALID_ARGUMENT);
  gp.script = ONDO_SCRIPT_AUTO;
  gp.loop_stop = 2;
  CHECK_STATUS(ondo_generate(session, "x", &gp, NULL, NULL), ONDO_INVALID_ARGUMENT);
  gp.loop_stop = -1;
  gp.post = 2;
  CHECK_STATUS(ondo_generate(session, "x", &gp, NULL, NULL), ONDO_INVALID_ARGUMENT);
  gp.post = -1;
  gp.spacing = -2;
  CHECK_STATUS(ondo_generate(session, "x", &gp, NULL, NULL), ONDO_INVALID_ARGUMENT);
  gp.spacing = -1;
  /* A full context: stop ends with ONDO_FINISH_CONTEXT exactly at capacity (128 here); slide
     goes on past it. keep must be in [0, n_ctx). */
  gp.max_tokens = -1;
  CHECK_STATUS(ondo_generate(session, "서울은 대한민국의", &gp, NULL, NULL), ONDO_OK);
  CHECK_STATUS(ondo_session_last_stats(session, &stats), ONDO_OK);
  CHECK(stats.finish_reason == ONDO_FINISH_CONTEXT &&
        stats.n_generated_tokens == 128 - stats.n_prompt_tokens + 1);
  gp.ctx_full = ONDO_CTX_FULL_SLIDE;
  gp.keep = 4;
  gp.max_tokens = 300;
  CHECK_STATUS(ondo_generate(session, "서울은 대한민국의", &gp, NULL, NULL), ONDO_OK);
  CHECK_STATUS(ondo_session_last_stats(session, &stats), ONDO_OK);
  CHECK(stats.finish_reason == ONDO_FINISH_LENGTH && stats.n_generated_tokens == 300);
  gp.keep = 128;
  CHECK_STATUS(ondo_generate(session, "x", &gp, NULL, NULL), ONDO_INVALID_ARGUMENT);
  gp.keep = -1;
  CHECK_STATUS(ondo_generate(session, "x", &gp, NULL, NULL), ONDO_INVALID_ARGUMENT);
  gp.keep = 0;
  gp.ctx_full = (ondo_ctx_full)5;
  CHECK_STATUS(ondo_generate(session, "x", &gp, NULL, NULL), ONDO_INVALID_ARGUMENT);
  gp.ctx_full = ONDO_CTX_FULL_STOP;
  /* The Korean post-processor on a raw prompt: the same tokens, and the text it delivers is
     whole sentences (no space before a final mark, no loop of 4+ marks). */
  memset(c, 0, sizeof(*c));
  gp.raw = 1;
  gp.post = 1;
  gp.max_tokens = 16;
  CHECK_STATUS(ondo_generate(session, "12시 땡!", &gp, collect, c), ONDO_OK);
  CHECK(c->n_ids > 0 && c->n_ids <= 16);
  CHECK(strstr(c->text, " .") == NULL && strstr(c->text, "!!!!") == NULL);
  /* With spacing restoration too: the same tokens, whole sentences. */
  memset(c, 0, sizeof(*c));
  gp.spacing = 1;
  CHECK_STATUS(ondo_generate(session, "12시 땡!", &gp, collect, c), ONDO_OK);
  CHECK(c->n_ids > 0 && c->n_ids <= 16);
  CHECK(strstr(c->text, " .") == NULL);
  gp.spacing = -1;
  gp.post = -1;
  gp.raw = 0;
  gp.chat = 1;
  gp.max_tokens = 2;

  /* Errors: chat and raw together, a system message in a format without one, bad UTF-8. */
  gp.raw = 1;
  CHECK_STATUS(ondo_generate(session, "x", &gp, NULL, NULL), ONDO_INVALID_ARGUMENT);
  gp.raw = 0;
  gp.system = "system";
  CHECK_STATUS(ondo_generate(session, "x", &gp, NULL, NULL), ONDO_INVALID_ARGUMENT);
  gp.system = NULL;
  CHECK_STATUS(ondo_generate(session, "abc\xc3", &gp, NULL, NULL), ONDO_INVALID_ARGUMENT);
  CHECK(strstr(ondo_last_error(), "UTF-8") != NULL);
  CHECK_STATUS(ondo_session_last_stats(session, &stats), ONDO_NOT_FOUND);
  ondo_session_free(session);

  /* A prompt longer than the context names both numbers. */
  sp.n_ctx = 8;
  session = NULL;
  CHECK_STATUS(ondo_session_create(model, &sp, &session), ONDO_OK);
  if (session != NULL) {
    gp.chat = 0;
    gp.raw = 1;
    CHECK_STATUS(ondo_generate(session, kRawPrompt, &gp, NULL, NULL), ONDO_OUT_OF_RANGE);
    CHECK(strstr(ondo_last_error(), "10") != NULL && strstr(ondo_last_error(), "8") != NULL);
    ondo_session_free(session);
  }
  free(c);
  ondo_model_free(model);
}

int main(void) {
  test_without_model();
  const char* model_path = ONDO_SHARED_DIR "/models/ko-mini-a.f16.gguf";
  if (access(model_path, R_OK) == 0) {
    test_with_model(model_path);
  } else {
    printf("capi_test: %s not found; model tests skipped\n", model_path);
  }
  printf("capi_test: %d checks, %d failed\n", g_checks, g_failed);
  return g_failed == 0 ? 0 : 1;
}
