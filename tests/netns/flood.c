/* A VRRP packet flooder for the flood tests (tests/netns/test_flood.py), compiled at test time.

       flood IFNAME SECONDS MAX_PACKETS DSTMAC:HEXPACKET [DSTMAC:HEXPACKET ...]

   Sends the given IPv4 packets (hex, whole IP packets) round-robin in Ethernet frames to the
   given destination MACs on IFNAME (AF_PACKET, sendmmsg in batches of 256, qdisc bypassed), as
   fast as the machine goes, until SECONDS have passed or MAX_PACKETS were sent; then prints
   "sent N packets in S seconds" and exits 0. A Python raw-socket loop reaches ~30 k packets/s;
   this reaches what the kernel's veth/bridge path takes. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <errno.h>

#define BATCH 256
#define MAXPKT 64
#define MAXLEN 1500

static double mono(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int main(int argc, char **argv) {
    static unsigned char pkts[MAXPKT][MAXLEN];
    static struct sockaddr_ll to[MAXPKT];
    static size_t lens[MAXPKT];
    static struct mmsghdr msgs[BATCH];
    static struct iovec iov[BATCH];
    int npkts = 0, i, one = 1;
    if (argc < 5) {
        fprintf(stderr, "usage: flood IFNAME SECONDS MAX_PACKETS DSTMAC:HEX...\n");
        return 2;
    }
    unsigned int ifindex = if_nametoindex(argv[1]);
    double seconds = atof(argv[2]);
    long long max = atoll(argv[3]);
    if (!ifindex) { perror("if_nametoindex"); return 2; }
    for (i = 4; i < argc && npkts < MAXPKT; i++, npkts++) {
        const char *s = argv[i];
        unsigned int m[6];
        if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x:", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6
            || strlen(s) < 18) {
            fprintf(stderr, "bad argument %s\n", s);
            return 2;
        }
        const char *h = s + 18;
        size_t n = strlen(h) / 2;
        if (n == 0 || n > MAXLEN) { fprintf(stderr, "bad packet length\n"); return 2; }
        for (size_t k = 0; k < n; k++) {
            int a = hexval(h[2 * k]), b = hexval(h[2 * k + 1]);
            if (a < 0 || b < 0) { fprintf(stderr, "bad hex\n"); return 2; }
            pkts[npkts][k] = (unsigned char)(a << 4 | b);
        }
        lens[npkts] = n;
        memset(&to[npkts], 0, sizeof(to[npkts]));
        to[npkts].sll_family = AF_PACKET;
        to[npkts].sll_protocol = htons(ETH_P_IP);
        to[npkts].sll_ifindex = (int)ifindex;
        to[npkts].sll_halen = 6;
        for (int k = 0; k < 6; k++) to[npkts].sll_addr[k] = (unsigned char)m[k];
    }
    int fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
    if (fd < 0) { perror("socket"); return 2; }
    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
    long long sent = 0;
    unsigned int next = 0;
    const char *rate_env = getenv("FLOOD_RATE");
    double rate = rate_env ? atof(rate_env) : 0;
    double start = mono(), end = start + seconds;
    while (sent < max) {
        int n = BATCH;
        if (max - sent < n) n = (int)(max - sent);
        for (i = 0; i < n; i++) {
            unsigned int p = (next + (unsigned int)i) % (unsigned int)npkts;
            iov[i].iov_base = pkts[p];
            iov[i].iov_len = lens[p];
            memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
            msgs[i].msg_hdr.msg_name = &to[p];
            msgs[i].msg_hdr.msg_namelen = sizeof(to[p]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(fd, msgs, (unsigned int)n, 0);
        if (r < 0) {
            if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) continue;
            perror("sendmmsg");
            return 1;
        }
        sent += r;
        next = (next + (unsigned int)r) % (unsigned int)npkts;
        double now = mono();
        if (now >= end) break;
        if (rate > 0 && start + sent / rate > now) {      /* paced: wait for this batch's slot */
            double wait = start + sent / rate - now;
            struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    double took = mono() - start;
    printf("sent %lld packets in %.3f seconds (%.0f/s)\n", sent, took, sent / (took > 0 ? took : 1));
    return 0;
}
