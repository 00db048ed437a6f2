import { expect } from 'chai';
import { ApiException } from '@kubernetes/client-node';
import { apiMessage, apiStatus, errorMessage, isPanic, isRejectedObject, isTerminalError, statusCode, TerminalError } from '../src/errors.js';

const invalid = new ApiException(
  422,
  'HTTP-Code: 422',
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Invalid', code: 422, message: 'Deployment.apps "c" is invalid: spec.template.spec.nodeSelector: Invalid value: "bad key!"' }),
  {},
);

describe('runtime/errors', () => {
  it('reads the apiserver Status from an ApiException, whatever form its body takes', () => {
    expect(apiStatus(invalid)).to.deep.equal({ code: 422, reason: 'Invalid', message: 'Deployment.apps "c" is invalid: spec.template.spec.nodeSelector: Invalid value: "bad key!"' });
    expect(apiStatus(new ApiException(404, 'nf', { kind: 'Status', reason: 'NotFound', message: 'gone' }, {}))).to.deep.equal({ code: 404, reason: 'NotFound', message: 'gone' });
    expect(apiStatus(new ApiException(500, 'x', '<html>proxy error</html>', {}))).to.deep.equal({ code: 500 });
    expect(apiStatus(new Error('ECONNREFUSED'))).to.equal(undefined);
  });

  it('statusCode reads ApiException.code, watch statusCode and Status bodies', () => {
    expect(statusCode(invalid)).to.equal(422);
    expect(statusCode({ statusCode: 410 })).to.equal(410);
    expect(statusCode({ body: { kind: 'Status', code: 410 } })).to.equal(410);
    expect(statusCode({ code: 'ECONNRESET' })).to.equal(undefined);
    expect(statusCode(undefined)).to.equal(undefined);
  });

  it("apiMessage prefers the apiserver's words", () => {
    expect(apiMessage(invalid)).to.match(/^Deployment.apps "c" is invalid/);
    expect(apiMessage(new Error('socket hang up'))).to.equal('socket hang up');
  });

  it('only 400 and 422 are refusals of the object itself', () => {
    expect(isRejectedObject(invalid)).to.equal(true);
    expect(isRejectedObject({ code: 400 })).to.equal(true);
    for (const code of [401, 403, 404, 409, 429, 500, 503]) expect(isRejectedObject({ code }), String(code)).to.equal(false);
  });

  it('describes any thrown value in one line', () => {
    expect(errorMessage(new Error('boom'))).to.equal('boom');
    expect(errorMessage('plain')).to.equal('plain');
    expect(errorMessage({ code: 1 })).to.equal('{"code":1}');
    expect(errorMessage(undefined)).to.equal('undefined');
  });

  it('tells terminal errors and panics apart from the rest', () => {
    expect(isTerminalError(new TerminalError('x'))).to.equal(true);
    expect(isTerminalError(new Error('x'))).to.equal(false);
    expect(isPanic(new TypeError('x'))).to.equal(true);
    expect(isPanic(new Error('x'))).to.equal(false);
  });

  it('does not take a failed fetch (the apiserver unreachable) for a panic', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
    expect(isPanic(new TypeError('fetch failed', { cause: refused }))).to.equal(false);
    expect(isPanic(new TypeError('fetch failed'))).to.equal(true);
  });
});
