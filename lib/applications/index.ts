// Barrel for lib/applications: re-exports its public API.
export {};
