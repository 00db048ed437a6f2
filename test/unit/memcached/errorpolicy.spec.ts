import { expect } from 'chai';
import { ApiException } from '@kubernetes/client-node';
import { RequestTimeoutError } from '@memcached-operator/runtime';
import { classifyWriteError, FAILURES_BEFORE_DEGRADED, verdictOn, type WriteFailure } from '../../../src/memcached/errorpolicy.js';
import { AbortedError } from '../../../src/memcached/writer.js';

/** A failed API call as client-node reports it: the apiserver's Status in the body. */
function apiError(code: number, reason: string, message: string): ApiException<string> {
  return new ApiException(code, `HTTP-Code: ${code}`, JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }), {});
}

const QUOTA = 'services "cache" is forbidden: exceeded quota: no-services, requested: services=1, used: services=0, limited: services=0';
const RANGE_FULL = 'Internal error occurred: failed to allocate a serviceIP: range is full';

describe('memcached/errorpolicy', () => {
  describe('classifyWriteError', () => {
    const cases: { name: string; err: unknown; optionalApi?: boolean; want: ReturnType<typeof classifyWriteError> }[] = [
      { name: '422 Invalid: the spec, not the network', err: apiError(422, 'Invalid', 'Deployment.apps "c" is invalid: spec.template.spec.nodeSelector'), want: 'rejected' },
      { name: '400 BadRequest', err: apiError(400, 'BadRequest', 'bad request'), want: 'rejected' },
      { name: "403 from a quota is not the spec's fault: retried", err: apiError(403, 'Forbidden', QUOTA), want: 'transient' },
      { name: '403 from RBAC: retried (and reported once it lasts)', err: apiError(403, 'Forbidden', 'services is forbidden: User cannot create'), want: 'transient' },
      { name: '500 from a full Service IP range', err: apiError(500, 'InternalError', RANGE_FULL), want: 'transient' },
      { name: '409 Conflict', err: apiError(409, 'Conflict', 'the object has been modified'), want: 'transient' },
      { name: '429 TooManyRequests', err: apiError(429, 'TooManyRequests', 'slow down'), want: 'transient' },
      { name: 'a request with no answer', err: new RequestTimeoutError('apply Service c: no answer within 30000 ms'), want: 'transient' },
      { name: 'the network', err: new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') }), want: 'transient' },
      { name: 'an aborted reconcile', err: new AbortedError(), want: 'transient' },
      { name: "404 on an optional API: it went away", err: apiError(404, 'NotFound', 'the server could not find the requested resource'), optionalApi: true, want: 'apiGoingAway' },
      {
        name: 'a terminating CRD on an optional API',
        err: apiError(403, 'Forbidden', 'create not allowed while custom resource definition is terminating'),
        optionalApi: true,
        want: 'apiGoingAway',
      },
      { name: '404 on a core kind: retried', err: apiError(404, 'NotFound', 'namespaces "gone" not found'), want: 'transient' },
      { name: '400 on an optional API is still the spec', err: apiError(400, 'BadRequest', 'bad'), optionalApi: true, want: 'rejected' },
    ];
    for (const c of cases) {
      it(c.name, () => expect(classifyWriteError(c.err, c.optionalApi ?? false)).to.equal(c.want));
    }
  });

  describe('verdictOn', () => {
    const failure = (kind: string, name: string, error: unknown, optionalApi = false): WriteFailure => ({ kind, name, error, optionalApi });
    const quota = failure('Service', 'cache', apiError(403, 'Forbidden', QUOTA));

    it('says nothing when nothing failed, or only an optional API went away', () => {
      expect(verdictOn([], 5)).to.equal(undefined);
      expect(verdictOn([failure('PodMonitor', 'cache', apiError(404, 'NotFound', 'gone'), true)], 5)).to.equal(undefined);
    });

    it('makes a rejected child terminal and Degraded with the apiserver words, whatever else failed', () => {
      const rejected = failure('Deployment', 'cache', apiError(422, 'Invalid', 'spec.template.spec.nodeSelector: Invalid value: "bad key!"'));
      expect(verdictOn([quota, rejected], 0)).to.deep.equal({
        then: 'terminal',
        reason: 'ChildRejected',
        message: 'the apiserver rejected Deployment cache: spec.template.spec.nodeSelector: Invalid value: "bad key!"',
      });
    });

    it(`retries a transient failure quietly until it has failed ${FAILURES_BEFORE_DEGRADED} times in a row`, () => {
      expect(FAILURES_BEFORE_DEGRADED).to.equal(3);
      for (const before of [0, 1]) {
        const verdict = verdictOn([quota], before);
        expect(verdict, `after ${before} failures`).to.deep.equal({ then: 'retry', error: quota.error });
      }
    });

    it("then reports ChildWriteFailing with the apiserver's message, and keeps retrying", () => {
      const third = verdictOn([quota], 2);
      expect(third).to.deep.include({ then: 'retry', reason: 'ChildWriteFailing', error: quota.error });
      expect(third?.then === 'retry' && third.message).to.equal(`writing Service cache keeps failing; retrying with backoff: ${QUOTA}`);
      // The message does not count the retries: the status must not change with each one.
      expect(verdictOn([quota], 50)).to.deep.equal(third);
    });

    it('names the first failing child in a fixed order, for a stable message', () => {
      const rangeFull = failure('Service', 'cache-headless', apiError(500, 'InternalError', RANGE_FULL));
      const verdict = verdictOn([rangeFull, quota], 3);
      expect(verdict?.then === 'retry' && verdict.message).to.equal(`writing Service cache-headless keeps failing; retrying with backoff: ${RANGE_FULL}`);
    });
  });
});
