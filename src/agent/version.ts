/** The agent's version: sent in heartbeats (`agent_version`) and in every request's User-Agent. */
export const AGENT_VERSION = '0.1.0';
