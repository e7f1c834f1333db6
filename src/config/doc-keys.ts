/**
 * Where the integration document's configuration keys (../shared/reference/system-integration.md, "Environment
 * Configuration") live in Vigil, section by section. An unknown key of a Vigil section that the document uses is
 * refused with this hint instead of a spelling guess, so a file written from the document fails loudly at start
 * with the Vigil key to use. README's "Keys of the integration document" table says the same.
 */

/** Top level of the file. */
export const TOP_HINTS: Readonly<Record<string, string>> = {
  database: 'no database server is used: detections, users, rules and alerts live in the embedded LMDB under dataDir',
  vector_database: 'search (appearance vectors are indexed under dataDir, no vector database server)',
  message_queue: 'integrations.queues (a list: { name, type: kafka | amqp | redis | mqtt | nats, url, ... })',
  external_apis: 'none: Vigil calls no hosted AI API (detection and embeddings run locally)',
  vms_systems: 'integrations.vms (a list: { id, type, url, username, password })',
  cloud_services: 'integrations.storage (type: s3 for alert media) and notify.channels (notifications)',
  authentication: 'auth (auth.jwt, auth.ldap)',
  monitoring: 'none in the config: Prometheus scrapes GET /metrics (deploy/)',
  security: 'TLS and request rate limits belong to the reverse proxy (deploy/); login limits are auth.rateLimits',
  notification_channels: 'notify.channels (a map of name -> { type: email | slack | webhook | sms, ... })',
  logging: 'log (log: { level, format: json })',
};

/** `authentication.jwt` -> `auth.jwt`. */
export const JWT_HINTS: Readonly<Record<string, string>> = {
  algorithm: 'none: tokens are always HS256',
  access_token_expire_minutes: 'accessTtlS (seconds)',
  refresh_token_expire_days: 'refreshTtlS (seconds)',
};

/** `authentication.ldap` -> `auth.ldap`. */
export const LDAP_HINTS: Readonly<Record<string, string>> = {
  server_url: 'url',
  base_dn: 'userSearchBase (and groupSearchBase)',
  bind_dn: 'bindDN',
  bind_password: 'bindPassword',
  user_search_base: 'userSearchBase',
  group_search_base: 'groupSearchBase',
};

/** `vms_systems.<name>` -> `integrations.vms[i]`. */
export const VMS_HINTS: Readonly<Record<string, string>> = {
  base_url: 'url',
  api_key: 'clientId and secret (Milestone OAuth) or username and password',
};

/** `authentication.saml_settings` (python3-saml / OneLogin settings) -> `auth.saml`. */
export const SAML_HINTS: Readonly<Record<string, string>> = {
  strict: 'none: responses are always checked strictly',
  debug: 'none (log.level)',
  security: 'clockSkewS, allowUnsolicited; assertions must always be signed',
};

/** OneLogin `sp` -> `auth.saml.sp`. */
export const SAML_SP_HINTS: Readonly<Record<string, string>> = {
  assertionConsumerService: 'acsUrl (the URL of POST /auth/saml/acs)',
  x509cert: 'certificate',
  NameIDFormat: 'auth.saml.nameIdFormat',
};

/** OneLogin `idp` -> `auth.saml.idp`. */
export const SAML_IDP_HINTS: Readonly<Record<string, string>> = {
  singleSignOnService: 'ssoUrl (and binding: redirect | post)',
  x509cert: 'certificates (a list)',
  x509certMulti: 'certificates (a list)',
};
