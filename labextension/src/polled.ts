import { Poll } from '@lumino/polling';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

/**
 * The state behind a tab of the panel that follows the server with a `Poll` while someone
 * looks at it (`active`): the poll backs off while the server fails and stands by while the
 * page is hidden. A subclass says what one round reads (`poll`) and emits `changed` through
 * `emitChanged` whenever anything shown changed.
 */
export abstract class PolledModel implements IDisposable {
  constructor(options: PolledModel.IPollOptions) {
    this._poll = new Poll({
      auto: false,
      factory: () => this.poll(),
      frequency: {
        interval: options.interval,
        backoff: true,
        max: options.max
      },
      name: options.name,
      standby: 'when-hidden'
    });
  }

  /** Anything shown changed. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Poll only while someone looks at what the model holds. */
  get active(): boolean {
    return this._active;
  }
  set active(value: boolean) {
    if (value === this._active || this._isDisposed) {
      return;
    }
    this._active = value;
    if (value) {
      void this._poll.start();
    } else {
      void this._poll.stop();
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._poll.dispose();
    Signal.clearData(this);
  }

  /** One round of the poll; a rejection makes the poll back off. */
  protected abstract poll(): Promise<void>;

  protected emitChanged(): void {
    this._changed.emit();
  }

  private _poll: Poll;
  private _active = false;
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}

export namespace PolledModel {
  export interface IPollOptions {
    /** The poll's name, e.g. `jupyter-mlops:changes`. */
    name: string;
    /** Milliseconds between two rounds while the server answers. */
    interval: number;
    /** The longest wait, in milliseconds, while it backs off. */
    max: number;
  }
}
