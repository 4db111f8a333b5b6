/* homelab.h must compile on its own, with nothing included before it. */
#include <homelab.h>

int main(void)
{
	hl_ctx_options opts = HL_CTX_OPTIONS_INIT;
	hl_buf buf = HL_BUF_INIT;

	(void)opts;
	hl_buf_dispose(&buf);
	return hl_version() ? 0 : 1;
}
