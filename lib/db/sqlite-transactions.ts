import type { IsolationLevel, SqlDriverAdapter, SqlDriverAdapterFactory, SqlQuery, Transaction } from '@prisma/driver-adapter-utils';

/**
 * Isolates transactions on the SQLite driver adapter. The better-sqlite3 adapter runs every query
 * of a Prisma client on ONE connection, and an open transaction (interactive or batch) is that
 * connection's transaction: a statement of another request issued between the transaction's
 * statements lands inside it — it sees uncommitted rows, it is undone if the transaction rolls
 * back although its caller was told it succeeded, and it is lost if the process dies before the
 * COMMIT. Here a statement outside a transaction waits until no transaction is open, and
 * transactions take turns, so each one is alone on the connection from BEGIN to COMMIT or
 * ROLLBACK. (PostgreSQL gives every transaction its own pooled connection and needs none of this.)
 */
/**
 * Key of the isolated adapter's `runOutside(run)`: runs `run` at once when no transaction is open
 * (synchronously, returning its value), else once the open ones have ended (a promise). The direct
 * statements of lib/db/direct run through it.
 */
export const RUN_OUTSIDE = Symbol('runOutside');

export function isolateSqliteTransactions(factory: SqlDriverAdapterFactory): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect(): Promise<SqlDriverAdapter> {
      return isolated(await factory.connect());
    },
  };
}

function isolated(inner: SqlDriverAdapter): SqlDriverAdapter {
  // Settles when the open transaction ends; null while none is open.
  let active: Promise<void> | null = null;
  // Transactions queue behind each other.
  let queue: Promise<void> = Promise.resolve();

  /**
   * Runs a statement outside any transaction. The better-sqlite3 adapter executes a statement
   * synchronously when called, so it runs in the same turn as the check that no transaction is open.
   */
  async function outside<T>(run: () => Promise<T>): Promise<T> {
    while (active) await active;
    return run();
  }

  function runOutside<T>(run: () => T): T | Promise<T> {
    return active ? outside(async () => run()) : run();
  }

  async function startTransaction(isolationLevel?: IsolationLevel): Promise<Transaction> {
    let end!: () => void;
    const mine = new Promise<void>((resolve) => (end = resolve));
    const previous = queue;
    queue = previous.then(() => mine);
    await previous;
    active = mine;
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      active = null;
      end();
    };
    let tx: Transaction;
    try {
      tx = await inner.startTransaction(isolationLevel);
    } catch (err) {
      finish();
      throw err;
    }
    return new Proxy(tx, {
      get(target, prop) {
        if (prop === 'commit' || prop === 'rollback') {
          return async () => {
            try {
              await target[prop]();
            } finally {
              finish();
            }
          };
        }
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  return new Proxy(inner, {
    get(target, prop) {
      switch (prop) {
        case 'queryRaw':
          return (query: SqlQuery) => outside(() => target.queryRaw(query));
        case 'executeRaw':
          return (query: SqlQuery) => outside(() => target.executeRaw(query));
        case 'executeScript':
          return (script: string) => outside(() => target.executeScript(script));
        case 'startTransaction':
          return startTransaction;
        case RUN_OUTSIDE:
          return runOutside;
        default: {
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        }
      }
    },
  });
}
