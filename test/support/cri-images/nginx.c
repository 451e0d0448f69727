/*
 * A stand-in for nginx in the CRI validation images (critest's nginx:1.14-2 and hostnet-nginx):
 * what the specs look at, and nothing more. It answers every HTTP request with 200 and a small
 * page, on the port given as argv[1] when it is a number (default 80); writes its pid to /var/run/nginx.pid; and, as
 * nginx's master does, shows "nginx: master process ..." as its command line (the ContainerPID spec
 * reads /proc/1/cmdline for it) while its process name stays "nginx" (pidof nginx). It logs one
 * line per request to stdout. Static, so the image needs no libc.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MASTER_TITLE "nginx: master process nginx -g daemon off;"

static const char page[] = "<!DOCTYPE html>\n<html><head><title>Welcome to nginx!</title></head>\n"
                           "<body><h1>Welcome to nginx!</h1></body></html>\n";

static void serve(int fd) {
  char req[4096];
  struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ssize_t n = read(fd, req, sizeof(req) - 1);
  if (n <= 0) return;
  req[n] = '\0';
  char *eol = strpbrk(req, "\r\n");
  if (eol) *eol = '\0';
  char head[256];
  int len = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nServer: nginx/1.14.2\r\nContent-Type: text/html\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                     sizeof(page) - 1);
  if (write(fd, head, (size_t)len) < 0 || write(fd, page, sizeof(page) - 1) < 0) return;
  printf("\"%s\" 200 %zu\n", req, sizeof(page) - 1);
  fflush(stdout);
}

int main(int argc, char **argv) {
  /* "nginx -g 'daemon off;'" (the image's command) keeps port 80; a number picks another. */
  int port = argc > 1 && isdigit((unsigned char)argv[1][0]) ? atoi(argv[1]) : 80;
  if (strncmp(argv[0], "nginx: ", 7) != 0) {
    /* Re-exec under the master's title; the path keeps the process name "nginx". */
    char portArg[16];
    snprintf(portArg, sizeof(portArg), "%d", port);
    char *args[] = {MASTER_TITLE, portArg, NULL};
    execv("/usr/sbin/nginx", args);
    perror("nginx: exec /usr/sbin/nginx");
  }
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET6, SOCK_STREAM, 0);
  int v6 = s >= 0;
  if (!v6) s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) {
    perror("nginx: socket");
    return 1;
  }
  int one = 1, zero = 0;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  int rc;
  if (v6) {
    setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = in6addr_any};
    rc = bind(s, (struct sockaddr *)&a, sizeof(a));
  } else {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    rc = bind(s, (struct sockaddr *)&a, sizeof(a));
  }
  if (rc < 0 || listen(s, 64) < 0) {
    fprintf(stderr, "nginx: [emerg] bind() to 0.0.0.0:%d failed (%s)\n", port, strerror(errno));
    return 1;
  }
  FILE *pid = fopen("/var/run/nginx.pid", "w");
  if (pid) {
    fprintf(pid, "%d\n", (int)getpid());
    fclose(pid);
  }
  printf("nginx: listening on port %d\n", port);
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR) continue;
      perror("nginx: accept");
      return 1;
    }
    serve(c);
    close(c);
  }
}
