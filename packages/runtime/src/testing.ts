// Test doubles of @memcached-operator/runtime, for tests and benchmarks only:
// import them from @memcached-operator/runtime/testing. Production code
// never does (the eslint layer rule forbids it in src/).
export { FakeClock, yieldToEventLoop } from './fakeclock.js';
