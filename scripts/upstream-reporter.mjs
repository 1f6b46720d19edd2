// A node:test reporter for scripts/upstream-tests.js: one JSON line per finished test, with the
// names of its enclosing suites, so that results of two runs can be matched by name path. The
// built-in reporters lose either the suite path (junit) or are awkward to parse (tap, spec).

export default async function * upstreamReporter (source) {
  // Names of the tests being reported, by nesting level. The runner reports each test file's
  // events together (files are buffered and drained in turn, even with --test-concurrency), so
  // one stack suffices. `data.file` names where a test was written, which for shared suites
  // (abstract_client.ts) is not the file that ran it: the file of the top-level test is kept.
  const openNames = []
  let topFile = null
  for await (const event of source) {
    const { type, data } = event
    if (type !== 'test:start' && type !== 'test:pass' && type !== 'test:fail') continue
    if (type === 'test:start') {
      if (data.nesting === 0) topFile = data.file ?? null
      openNames.length = data.nesting
      openNames[data.nesting] = data.name
      continue
    }
    const error = data.details?.error
    const cause = error?.cause
    yield JSON.stringify({
      file: data.nesting === 0 ? (data.file ?? topFile) : topFile,
      path: [...openNames.slice(0, data.nesting), data.name],
      nesting: data.nesting,
      passed: type === 'test:pass',
      skip: data.skip !== undefined && data.skip !== false,
      // The reason given to a skipped test (`{ skip: 'reason' }`), such as the harness's own.
      skipReason: typeof data.skip === 'string' ? data.skip : null,
      todo: data.todo !== undefined && data.todo !== false,
      kind: data.details?.type ?? null,
      durationMs: data.details?.duration_ms ?? null,
      // The test runner wraps the thrown error: its `cause` is what the test threw.
      error: error ? describeError(cause ?? error) : null,
      failureType: error?.failureType ?? null
    }) + '\n'
  }
}

function describeError (error) {
  if (error === null || typeof error !== 'object') return String(error)
  const text = error.stack ?? `${error.name}: ${error.message}`
  return String(text).split('\n').slice(0, 8).join('\n')
}
