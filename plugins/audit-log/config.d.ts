export interface Config {
  /** The audit log plugins; the backend plugin's settings are in its own config.d.ts. */
  auditLog?: {
    /**
     * Witnesses whose cosignatures (c2sp.org/tlog-cosignature) the integrity views require on
     * a checkpoint's signed note, as the SDKs' witness policy does. Without it, no witness
     * check is made.
     * @visibility frontend
     * @deepVisibility frontend
     */
    witnesses?: {
      /**
       * The witnesses' verifier keys: `<name>+<hex key ID>+<base64 of 0x04 || Ed25519 public
       * key>` (cosignature/v1 vkeys, as the service's verifier-keys endpoint lists them).
       * @visibility frontend
       */
      keys: string[];
      /**
       * How many of them must have cosigned (default: all of them; 0 disables the check).
       * @visibility frontend
       */
      quorum?: number;
    };
  };
}
