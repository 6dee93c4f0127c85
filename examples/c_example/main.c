/* A firmware-style use of ondo through its C API only: load a model, create a session with a
   fixed context and memory budget, stream one reply through a callback, free everything.

   usage: c_example [MODEL.gguf [PROMPT]]
   Without arguments it runs the embedded demo model when the build says where it is
   (ONDO_DEMO_MODEL: examples/CMakeLists.txt, the installed CMake package or ondo.pc).
*/
#include <stdio.h>
#include <string.h>

#include <ondo.h>

/* Where the reply goes; a device would write to a display or a UART instead. */
typedef struct {
  FILE* out;
  size_t n_bytes;
} sink;

static int on_token(const char* text, size_t len, int32_t token_id, void* user_data) {
  sink* s = (sink*)user_data;
  (void)token_id;
  if (len > 0) {
    fwrite(text, 1, len, s->out);
    fflush(s->out);
    s->n_bytes += len;
  }
  return 1; /* keep going; return 0 to stop early */
}

static int fail(const char* what, ondo_status status) {
  fprintf(stderr, "c_example: %s: %s: %s\n", what, ondo_status_string(status), ondo_last_error());
  return 1;
}

int main(int argc, char** argv) {
#ifdef ONDO_DEMO_MODEL
  const char* model_path = argc >= 2 ? argv[1] : ONDO_DEMO_MODEL;
#else
  const char* model_path = argc >= 2 ? argv[1] : NULL;
#endif
  if (model_path == NULL || argc > 3) {
    fprintf(stderr, "usage: %s MODEL.gguf [PROMPT]\n", argv[0]);
    return 2;
  }
  const char* prompt = argc == 3 ? argv[2] : "\xec\x95\x88\xeb\x85\x95\xed\x95\x98\xec\x84\xb8\xec\x9a\x94"; /* 안녕하세요 */

  ondo_model* model = NULL;
  ondo_status st = ondo_model_load(model_path, &model);
  if (st != ONDO_OK) return fail("load", st);

  ondo_session_params sp = ondo_session_params_default();
  sp.n_ctx = 256;
  sp.n_threads = 2;
  sp.budget_bytes = 256u * 1024u * 1024u; /* refuse to start above 256 MiB */
  ondo_session* session = NULL;
  st = ondo_session_create(model, &sp, &session);
  if (st != ONDO_OK) {
    ondo_model_free(model);
    return fail("session", st);
  }

  ondo_generate_params gp = ondo_generate_params_default();
  gp.max_tokens = 64;
  gp.temperature = 0.0f; /* greedy: the same reply every time */
  sink s = {stdout, 0};
  st = ondo_generate(session, prompt, &gp, on_token, &s);
  if (st != ONDO_OK) {
    ondo_session_free(session);
    ondo_model_free(model);
    return fail("generate", st);
  }
  printf("\n");

  ondo_generate_stats stats;
  if (ondo_session_last_stats(session, &stats) == ONDO_OK) {
    fprintf(stderr, "ondo %s: %d prompt tokens, %d generated, %zu bytes, %.1f tok/s decode\n",
            ondo_version(), stats.n_prompt_tokens, stats.n_generated_tokens, s.n_bytes,
            stats.decode_tok_s);
  }
  ondo_session_free(session);
  ondo_model_free(model);
  return 0;
}
