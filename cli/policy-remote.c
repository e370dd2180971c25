/* SPDX-License-Identifier: MIT */
/* driftwatch policy push|assign|impact: a runtime policy to the verifier's admin API (docs/protocol.md, "Admin API"),
 * which gateways or groups follow it, and what a policy would make of them before it is pushed. HTTPS pinned to the
 * verifier's CA, the admin token from a file (never from the command line, where `ps` would show it). */

#include <getopt.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "fileio.h"
#include "policy-cli.h"

#define TOKEN_MAX  4096
#define ANSWER_MAX (1u << 20)
#define BODY_MAX   (256u * 1024 * 1024)

#define SCOPE_MAX 1024

struct remote_args {
        const char *verifier, *ca, *token_file;
        const char *name, *gateway, *group, *version, *ref;
        const char *policy;
        bool json;
        /* every --gateway and --group given (impact) */
        const char *gateways[SCOPE_MAX], *groups[SCOPE_MAX];
        size_t n_gateways, n_groups;
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

/* One request: 0 with the HTTP status and the answer (malloc'd, NUL-terminated), or EXIT_BAD_INPUT (printed) when
 * there is no answer. */
static int request_raw(const struct remote_args *a, const char *method, const char *path, const char *body, size_t len,
                       long *ret_status, char **ret_answer)
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
        *ret_status = status;
        *ret_answer = ans.data ?: strdup("");
        return *ret_answer ? 0 : cli_error("out of memory");
}

/* One request; prints the answer (JSON as is with --json, else one line) and returns 0 on 2xx, 1 on a refusal, 2 on
 * a transport error. */
static int request(const struct remote_args *a, const char *method, const char *path, const char *body, size_t len)
{
        _cleanup_free_ char *answer = NULL;
        long status = 0;
        int r;

        r = request_raw(a, method, path, body, len, &status, &answer);
        if (r != 0)
                return r;
        if (a->json || status < 200 || status >= 300)
                printf("%s\n", answer);
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
        else if (strcmp(verb, "impact") == 0) {
                printf("Usage: driftwatch policy impact --verifier URL --token-file FILE [--ca CA.pem]\n"
                       "       (POLICY [--name NAME] | --ref NAME[@VERSION]) [--gateway ID]... [--group GROUP]... "
                       "[--json]\n"
                       "A dry run: what POLICY (a file, signed or not), or a stored version, would make of the\n"
                       "gateways at their next round, judged by the verifier against the IMA entries it holds of\n"
                       "their current boot. Without --gateway/--group: the gateways a push of POLICY as the next\n"
                       "version of NAME (default: its meta.name) would affect. Nothing is changed.\n\n"
                       "  --gateway ID        a gateway in scope (repeatable)\n"
                       "  --group GROUP       the gateways an assignment to GROUP would affect (repeatable)\n"
                       "  --ref NAME[@V]      a stored version (default: the latest) instead of a file\n");
                printf("\n  --verifier URL      https://HOST:PORT of driftwatch-verifier\n"
                       "  --token-file FILE   the admin token (the verifier's admin.token)\n"
                       "  --ca CA.pem         the verifier's CA (its state directory's ca.pem); default: the system's\n"
                       "  --json              print the verifier's answer\n\n"
                       "Exit status: 0 no gateway in scope would be untrusted, 1 some would, 2 bad input or a\n"
                       "failed request.\n");
                return;
        } else
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
        enum {
                ARG_VERIFIER = 0x100,
                ARG_CA,
                ARG_TOKEN,
                ARG_NAME,
                ARG_GATEWAY,
                ARG_GROUP,
                ARG_VERSION,
                ARG_JSON,
                ARG_REF
        };
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
                {"ref", required_argument, NULL, ARG_REF},
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
                        if (a->n_gateways == SCOPE_MAX)
                                return cli_error("%s: at most %d --gateway", verb, SCOPE_MAX);
                        a->gateway = a->gateways[a->n_gateways++] = optarg;
                        break;
                case ARG_GROUP:
                        if (a->n_groups == SCOPE_MAX)
                                return cli_error("%s: at most %d --group", verb, SCOPE_MAX);
                        a->group = a->groups[a->n_groups++] = optarg;
                        break;
                case ARG_REF:
                        a->ref = optarg;
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
        if (!!a.gateway == !!a.group || a.n_gateways + a.n_groups > 1)
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

/* ---- impact ------------------------------------------------------------------------------------------------- */

static int impact_body(const struct remote_args *a, char **ret)
{
        _cleanup_(json_decrefp) json_t *body = json_object(), *doc = NULL;
        json_t *scope, *list;
        json_error_t jerr;
        int r;

        if (!body)
                return cli_error("out of memory");
        if (a->ref) {
                _cleanup_free_ char *name = strdup(a->ref);
                char *at = name ? strchr(name, '@') : NULL, *end;
                long version = 0;

                if (!name)
                        return cli_error("out of memory");
                if (at) {
                        *at = '\0';
                        version = strtol(at + 1, &end, 10);
                        if (*end || version < 1)
                                return cli_error("impact: --ref NAME@VERSION wants a version number ≥ 1, not '%s'",
                                                 at + 1);
                }
                if (!name_valid(name))
                        return cli_error("impact: '%s' is not a policy name (1-64 of A-Z a-z 0-9 . _ -)", name);
                json_object_set_new(body, "ref",
                                    version ? json_pack("{s:s, s:I}", "name", name, "version", (json_int_t)version)
                                            : json_pack("{s:s}", "name", name));
        } else {
                r = policy_load_doc(a->policy, &doc); /* refused here, with its position, as push does */
                if (r != 0)
                        return r;
                json_decref(TAKE_PTR(doc));
                doc = json_load_file(a->policy, JSON_REJECT_DUPLICATES, &jerr); /* sent as written */
                if (!doc)
                        return cli_error("%s: line %d, column %d: %s", a->policy, jerr.line, jerr.column, jerr.text);
                json_object_set_new(body, "policy", TAKE_PTR(doc));
                if (a->name)
                        json_object_set_new(body, "name", json_string(a->name));
        }
        if (a->n_gateways + a->n_groups > 0) {
                scope = json_object();
                json_object_set_new(body, "scope", scope);
                list = json_array();
                json_object_set_new(scope, "gateways", list);
                for (size_t i = 0; i < a->n_gateways; i++) {
                        if (!name_valid(a->gateways[i]))
                                return cli_error("impact: '%s' is not a gateway id", a->gateways[i]);
                        json_array_append_new(list, json_string(a->gateways[i]));
                }
                list = json_array();
                json_object_set_new(scope, "groups", list);
                for (size_t i = 0; i < a->n_groups; i++) {
                        if (!name_valid(a->groups[i]))
                                return cli_error("impact: '%s' is not a group name", a->groups[i]);
                        json_array_append_new(list, json_string(a->groups[i]));
                }
        }
        *ret = json_dumps(body, JSON_COMPACT);
        return *ret ? 0 : cli_error("out of memory");
}

/* One line for a gateway whose verdict changes (or stays untrusted). */
static void impact_print_gateway(json_t *g)
{
        const char *id = json_string_value(json_object_get(g, "id"));
        const char *current = json_string_value(json_object_get(g, "current"));
        const char *predicted = json_string_value(json_object_get(g, "predicted"));
        json_t *failures = json_object_get(g, "failures"), *f = json_array_get(failures, 0);
        size_t more = json_array_size(failures) + (size_t)json_integer_value(json_object_get(g, "failures_omitted"));
        size_t other = json_array_size(json_object_get(g, "other_sticky")) +
                       (size_t)json_integer_value(json_object_get(g, "other_sticky_omitted"));

        if (!id || !current || !predicted)
                return;
        if (strcmp(current, predicted) == 0 && strcmp(predicted, "untrusted") != 0)
                return;
        if (strcmp(current, predicted) == 0)
                printf("%s: stays untrusted", id);
        else
                printf("%s: %s -> %s", id, current, predicted);
        if (f && strcmp(predicted, "untrusted") == 0) {
                const char *digest = json_string_value(json_object_get(f, "digest"));

                printf(": %s%s%s %s (entry %" JSON_INTEGER_FORMAT ")",
                       json_string_value(json_object_get(f, "path")) ?: "", digest ? " " : "", digest ?: "",
                       json_string_value(json_object_get(f, "reason")) ?: "",
                       json_integer_value(json_object_get(f, "index")));
                if (more > 1)
                        printf(", and %zu more", more - 1);
        }
        if (other > 0 && strcmp(predicted, "untrusted") == 0)
                printf("%s%zu other sticky failure%s", f ? "; " : ": ", other, other == 1 ? "" : "s");
        if (strcmp(json_string_value(json_object_get(g, "evidence")) ?: "", "complete") != 0)
                printf(" [evidence of this boot incomplete: not judged again]");
        putchar('\n');
}

static int policy_impact(int argc, char **argv)
{
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_free_ char *body = NULL, *text = NULL;
        struct remote_args a;
        json_t *summary, *g;
        json_error_t jerr;
        long status = 0;
        size_t i;
        int r;

        r = remote_parse("impact", argc, argv, &a);
        if (r != 0)
                return r;
        if (!a.policy == !a.ref)
                return cli_error("impact: give a policy file or --ref NAME[@VERSION]");
        if (a.ref && a.name)
                return cli_error("impact: --name goes with a policy file, not with --ref");
        if (a.version)
                return cli_error("impact: --version: use --ref NAME@VERSION");
        r = impact_body(&a, &body);
        if (r != 0)
                return r;
        r = request_raw(&a, "POST", "/v1/admin/policies/runtime/impact", body, strlen(body), &status, &text);
        if (r != 0)
                return r;
        if (status < 200 || status >= 300) {
                answer = json_loads(text, 0, NULL);
                fprintf(stderr, "driftwatch: impact: HTTP %ld: %s%s%s\n", status,
                        json_string_value(json_object_get(answer, "error")) ?: "",
                        json_object_get(answer, "detail") ? ": " : "",
                        json_string_value(json_object_get(answer, "detail")) ?: text);
                return EXIT_BAD_INPUT;
        }
        answer = json_loads(text, 0, &jerr);
        summary = json_object_get(answer, "summary");
        if (!json_is_object(summary))
                return cli_error("impact: the verifier's answer is not an impact report: %.200s", text);
        if (a.json)
                printf("%s\n", text);
        else {
                json_array_foreach(json_object_get(answer, "gateways"), i, g) impact_print_gateway(g);
                printf("%s: %" JSON_INTEGER_FORMAT " gateway%s: %" JSON_INTEGER_FORMAT
                       " turn untrusted, %" JSON_INTEGER_FORMAT " turn trusted, %" JSON_INTEGER_FORMAT
                       " unchanged; %" JSON_INTEGER_FORMAT " untrusted after\n",
                       json_string_value(json_object_get(json_object_get(answer, "policy"), "id")) ?: "policy",
                       json_integer_value(json_object_get(summary, "gateways")),
                       json_integer_value(json_object_get(summary, "gateways")) == 1 ? "" : "s",
                       json_integer_value(json_object_get(summary, "turn_untrusted")),
                       json_integer_value(json_object_get(summary, "turn_trusted")),
                       json_integer_value(json_object_get(summary, "unchanged")),
                       json_integer_value(json_object_get(summary, "untrusted")));
        }
        return json_integer_value(json_object_get(summary, "untrusted")) > 0 ? EXIT_NEGATIVE : 0;
}

int cli_policy_impact(int argc, char **argv)
{
        return policy_impact(argc, argv);
}

int cli_policy_push(int argc, char **argv)
{
        return policy_push(argc, argv);
}

int cli_policy_assign(int argc, char **argv)
{
        return policy_assign(argc, argv);
}
