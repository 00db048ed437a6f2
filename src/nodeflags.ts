// The V8 flags the operator's Node process runs with, wherever it runs: the
// image's ENTRYPOINT (Dockerfile; a unit test keeps the two equal) and the
// launcher the tests and the benchmark use (test/support/operator.ts).
//
// Measured on Node 26.10 (the idle-footprint work), an idle operator on an empty namespace,
// RSS after 15 s: 150.8 MB with V8's defaults; 123.0 MB with a 1 MB and
// 123.3 MB with a 2 MB semi-space (the young generation V8 sizes for a large
// machine, mostly empty at idle, is most of the difference);
// --optimize-for-size 123.5 MB; --single-threaded-gc made it worse (138 MB);
// MALLOC_ARENA_MAX=2 and --v8-pool-size=1 changed nothing. 2 MB rather than 1:
// the same at idle, and fewer scavenges while 1000 objects' watch events are
// parsed. The rest of the baseline is @kubernetes/client-node itself: a bare
// `node` is 43 MB, importing client-node 2.0.1 alone takes it to 130 MB
// (its generated API classes and ~900 model classes load as one graph).
export const OPERATOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=2'];
