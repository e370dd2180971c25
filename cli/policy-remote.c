/* SPDX-License-Identifier: MIT */
/* driftwatch policy push|assign: a runtime policy to the verifier's admin API (docs/protocol.md, "Admin API"), and
 * which gateways or groups follow it. HTTPS pinned to the verifier's CA, the admin token from a file (never from the
 * command line, where `ps` would show it). */

#include <getopt.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "fileio.h"
#include "policy-cli.h"

#define TOKEN_MAX  4096
#define ANSWER_MAX (1u << 20)
#define BODY_MAX   (256u * 1024 * 1024)

struct remote_args {
        const char *verifier, *ca, *token_file;
        const char *name, *gateway, *group, *version;
        const char *policy;
        bool json;
};

struct answer {
        char *data;
        size_t size;
};

static size_t answer_write(char *p, size_t size, size_t n, void *userdata)
{
        struct answer *a = userdata;
        size_t len = size * n;
        char *d;

        if (a->size + len > ANSWER_MAX)
                return 0;
        d = realloc(a->data, a->size + len + 1);
        if (!d)
                return 0;
        memcpy(d + a->size, p, len);
        a->data = d;
        a->size += len;
        a->data[a->size] = '\0';
        return len;
}

static void curl_easy_cleanupp(CURL **c)
{
        if (*c)
                curl_easy_cleanup(*c);
}

static void curl_slist_freep(struct curl_slist **l)
{
        curl_slist_free_all(*l);
}

/* The admin token: the first line of the file, wiped after use by the caller. */
static int token_read(const char *path, char **ret)
{
        _cleanup_free_ uint8_t *data = NULL;
        size_t size;
        int r;

        r = dw_read_full_file(path, TOKEN_MAX, &data, &size);
        if (r < 0)
                return cli_error("%s: cannot read the token: %s", path, strerror(-r));
        data[strcspn((char *)data, "\r\n")] = '\0';
        if (!data[0])
                return cli_error("%s: empty token", path);
        *ret = (char *)TAKE_PTR(data);
        return 0;
}

/* A name for a URL path: the protocol's rule for ids (1-64 of A-Z a-z 0-9 . _ -, not starting with . or -). */
static bool name_valid(const char *s)
{
        size_t n = strlen(s);

        return n >= 1 && n <= 64 && s[0] != '.' && s[0] != '-' &&
               strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* One request; prints the answer (JSON as is with --json, else one line) and returns 0 on 2xx, 1 on a refusal, 2 on
 * a transport error. */
static int request(const struct remote_args *a, const char *method, const char *path, const char *body, size_t len)
{
        _cleanup_(curl_easy_cleanupp) CURL *c = curl_easy_init();
        _cleanup_(curl_slist_freep) struct curl_slist *h = NULL;
        _cleanup_free_ char *token = NULL, *url = NULL, *auth = NULL;
        struct answer ans = {};
        char errbuf[CURL_ERROR_SIZE] = "";
        long status = 0;
        CURLcode rc;
        int r;

        if (!c)
                return cli_error("out of memory");
        r = token_read(a->token_file, &token);
        if (r != 0)
                return r;
        if (asprintf(&url, "%s%s", a->verifier, path) < 0 || asprintf(&auth, "Authorization: Bearer %s", token) < 0)
                return cli_error("out of memory");
        OPENSSL_cleanse(token, strlen(token));
        h = curl_slist_append(h, auth);
        h = curl_slist_append(h, "Content-Type: application/json");
        rc = curl_easy_setopt(c, CURLOPT_URL, url);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
        if (rc == CURLE_OK && a->ca)
                rc = curl_easy_setopt(c, CURLOPT_CAINFO, a->ca);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, answer_write);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, &ans);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        if (rc == CURLE_OK)
                rc = curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
        if (rc == CURLE_OK)
                rc = curl_easy_perform(c);
        OPENSSL_cleanse(auth, strlen(auth));
        if (rc != CURLE_OK) {
                free(ans.data);
                return cli_error("%s: %s", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (a->json || status < 200 || status >= 300)
                printf("%s\n", ans.data ? ans.data : "");
        free(ans.data);
        if (status < 200 || status >= 300) {
                fprintf(stderr, "driftwatch: %s %s: HTTP %ld\n", method, path, status);
                return EXIT_NEGATIVE;
        }
        return 0;
}

static void remote_help(const char *verb)
{
        if (strcmp(verb, "push") == 0)
                printf("Usage: driftwatch policy push --verifier URL --token-file FILE [--ca CA.pem] [--name NAME] "
                       "[--json] POLICY\n"
                       "Checks POLICY as the verifier will, then uploads it as a new version of runtime policy NAME\n"
                       "(default: the policy's meta.name). Gateways following NAME's latest version use it at\n"
                       "their next round (the verifier challenges them to run one at once).\n");
        else
                printf("Usage: driftwatch policy assign --verifier URL --token-file FILE [--ca CA.pem]\n"
                       "       (--gateway ID | --group GROUP) --name NAME [--version N] [--json]\n"
                       "Makes a gateway or a group follow runtime policy NAME: its latest version, or version N.\n");
        printf("\n  --verifier URL      https://HOST:PORT of driftwatch-verifier\n"
               "  --token-file FILE   the admin token (the verifier's admin.token)\n"
               "  --ca CA.pem         the verifier's CA (its state directory's ca.pem); default: the system's\n"
               "  --json              print the verifier's answer\n\n"
               "Exit status: 0 done, 1 refused by the verifier (its answer is printed), 2 bad input or no answer.\n");
}

static int remote_parse(const char *verb, int argc, char **argv, struct remote_args *a)
{
        enum { ARG_VERIFIER = 0x100, ARG_CA, ARG_TOKEN, ARG_NAME, ARG_GATEWAY, ARG_GROUP, ARG_VERSION, ARG_JSON };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"verifier", required_argument, NULL, ARG_VERIFIER},
                {"ca", required_argument, NULL, ARG_CA},
                {"token-file", required_argument, NULL, ARG_TOKEN},
                {"name", required_argument, NULL, ARG_NAME},
                {"gateway", required_argument, NULL, ARG_GATEWAY},
                {"group", required_argument, NULL, ARG_GROUP},
                {"version", required_argument, NULL, ARG_VERSION},
                {"json", no_argument, NULL, ARG_JSON},
                {},
        };
        int c;

        *a = (struct remote_args){};
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        remote_help(verb);
                        exit(0);
                case ARG_VERIFIER:
                        a->verifier = optarg;
                        break;
                case ARG_CA:
                        a->ca = optarg;
                        break;
                case ARG_TOKEN:
                        a->token_file = optarg;
                        break;
                case ARG_NAME:
                        a->name = optarg;
                        break;
                case ARG_GATEWAY:
                        a->gateway = optarg;
                        break;
                case ARG_GROUP:
                        a->group = optarg;
                        break;
                case ARG_VERSION:
                        a->version = optarg;
                        break;
                case ARG_JSON:
                        a->json = true;
                        break;
                default:
                        return EXIT_BAD_INPUT;
                }
        if (!a->verifier || strncmp(a->verifier, "https://", 8) != 0)
                return cli_error("%s: --verifier https://HOST:PORT is required", verb);
        if (!a->token_file)
                return cli_error("%s: --token-file is required", verb);
        if (a->name && !name_valid(a->name))
                return cli_error("%s: '%s' is not a policy name (1-64 of A-Z a-z 0-9 . _ -)", verb, a->name);
        if (optind < argc)
                a->policy = argv[optind++];
        if (optind < argc)
                return cli_error("%s: unexpected argument '%s'", verb, argv[optind]);
        return 0;
}

static int policy_push(int argc, char **argv)
{
        _cleanup_(json_decrefp) json_t *doc = NULL;
        _cleanup_free_ uint8_t *body = NULL;
        _cleanup_free_ char *path = NULL;
        struct remote_args a;
        const char *name;
        size_t size;
        int r;

        r = remote_parse("push", argc, argv, &a);
        if (r != 0)
                return r;
        if (!a.policy)
                return cli_error("push: which policy file?");
        r = policy_load_doc(a.policy, &doc); /* refused here rather than by the verifier, with the position */
        if (r != 0)
                return r;
        name = a.name ?: json_string_value(json_object_get(json_object_get(doc, "meta"), "name"));
        if (!name || !name_valid(name))
                return cli_error("push: %s has no usable meta.name: give --name", a.policy);
        r = dw_read_full_file(a.policy, BODY_MAX, &body, &size); /* the bytes as signed, unchanged */
        if (r < 0)
                return cli_error("%s: %s", a.policy, strerror(-r));
        if (asprintf(&path, "/v1/admin/policies/runtime/%s", name) < 0)
                return cli_error("out of memory");
        r = request(&a, "POST", path, (const char *)body, size);
        if (r == 0 && !a.json)
                printf("pushed %s as runtime policy '%s'\n", a.policy, name);
        return r;
}

static int policy_assign(int argc, char **argv)
{
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_free_ char *path = NULL, *text = NULL;
        struct remote_args a;
        json_t *ref;
        char *end;
        long version = 0;
        int r;

        r = remote_parse("assign", argc, argv, &a);
        if (r != 0)
                return r;
        if (!!a.gateway == !!a.group)
                return cli_error("assign: one of --gateway ID or --group GROUP");
        if (!a.name)
                return cli_error("assign: --name NAME is required");
        if (!name_valid(a.gateway ?: a.group))
                return cli_error("assign: '%s' is not a gateway or group name", a.gateway ?: a.group);
        if (a.version) {
                version = strtol(a.version, &end, 10);
                if (*end || version < 1)
                        return cli_error("assign: --version wants a version number ≥ 1, not '%s'", a.version);
        }
        ref = version ? json_pack("{s:s, s:I}", "name", a.name, "version", (json_int_t)version) : json_string(a.name);
        body = ref ? json_pack("{s:o}", "runtime", ref) : NULL;
        text = body ? json_dumps(body, JSON_COMPACT) : NULL;
        if (!text ||
            asprintf(&path, "/v1/admin/%s/%s/policies", a.gateway ? "gateways" : "groups", a.gateway ?: a.group) < 0)
                return cli_error("out of memory");
        r = request(&a, "PUT", path, text, strlen(text));
        if (r == 0 && !a.json)
                printf("%s %s follows runtime policy '%s' (%s)\n", a.gateway ? "gateway" : "group",
                       a.gateway ?: a.group, a.name, a.version ? a.version : "latest version");
        return r;
}

int cli_policy_push(int argc, char **argv)
{
        return policy_push(argc, argv);
}

int cli_policy_assign(int argc, char **argv)
{
        return policy_assign(argc, argv);
}
