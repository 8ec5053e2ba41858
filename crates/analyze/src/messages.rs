//! The message catalogue: Istio's analyzer codes (same code, name and level, so tools and
//! habits carry over) and verimesh's own VM codes for what Istio does not check.

use verimesh_config::Level;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessageType {
    pub code: &'static str,
    pub name: &'static str,
    pub level: Level,
}

macro_rules! catalogue {
    ($($ident:ident = $code:literal, $name:literal, $level:ident;)+) => {
        $(pub const $ident: MessageType = MessageType { code: $code, name: $name, level: Level::$level };)+
        /// Every message type, for listings and lookups by code.
        pub const ALL: &[MessageType] = &[$($ident),+];
    };
}

catalogue! {
    INTERNAL_ERROR = "IST0001", "InternalError", Error;
    DEPRECATED = "IST0002", "Deprecated", Warning;
    REFERENCED_RESOURCE_NOT_FOUND = "IST0101", "ReferencedResourceNotFound", Error;
    NAMESPACE_NOT_INJECTED = "IST0102", "NamespaceNotInjected", Info;
    POD_MISSING_PROXY = "IST0103", "PodMissingProxy", Warning;
    SCHEMA_VALIDATION_ERROR = "IST0106", "SchemaValidationError", Error;
    MISPLACED_ANNOTATION = "IST0107", "MisplacedAnnotation", Warning;
    UNKNOWN_ANNOTATION = "IST0108", "UnknownAnnotation", Warning;
    CONFLICTING_MESH_GATEWAY_VIRTUAL_SERVICE_HOSTS = "IST0109", "ConflictingMeshGatewayVirtualServiceHosts", Error;
    CONFLICTING_SIDECAR_WORKLOAD_SELECTORS = "IST0110", "ConflictingSidecarWorkloadSelectors", Error;
    MULTIPLE_SIDECARS_WITHOUT_WORKLOAD_SELECTORS = "IST0111", "MultipleSidecarsWithoutWorkloadSelectors", Error;
    VIRTUAL_SERVICE_DESTINATION_PORT_SELECTOR_REQUIRED = "IST0112", "VirtualServiceDestinationPortSelectorRequired", Error;
    DEPLOYMENT_ASSOCIATED_TO_MULTIPLE_SERVICES = "IST0116", "DeploymentAssociatedToMultipleServices", Warning;
    PORT_NAME_IS_NOT_UNDER_NAMING_CONVENTION = "IST0118", "PortNameIsNotUnderNamingConvention", Info;
    NAMESPACE_MULTIPLE_INJECTION_LABELS = "IST0123", "NamespaceMultipleInjectionLabels", Warning;
    INVALID_ANNOTATION = "IST0125", "InvalidAnnotation", Warning;
    UNKNOWN_MESH_NETWORKS_SERVICE_REGISTRY = "IST0126", "UnknownMeshNetworksServiceRegistry", Error;
    NO_MATCHING_WORKLOADS_FOUND = "IST0127", "NoMatchingWorkloadsFound", Warning;
    NO_SERVER_CERTIFICATE_VERIFICATION_DESTINATION_LEVEL = "IST0128", "NoServerCertificateVerificationDestinationLevel", Warning;
    NO_SERVER_CERTIFICATE_VERIFICATION_PORT_LEVEL = "IST0129", "NoServerCertificateVerificationPortLevel", Warning;
    VIRTUAL_SERVICE_UNREACHABLE_RULE = "IST0130", "VirtualServiceUnreachableRule", Warning;
    VIRTUAL_SERVICE_INEFFECTIVE_MATCH = "IST0131", "VirtualServiceIneffectiveMatch", Info;
    VIRTUAL_SERVICE_HOST_NOT_FOUND_IN_GATEWAY = "IST0132", "VirtualServiceHostNotFoundInGateway", Warning;
    SCHEMA_WARNING = "IST0133", "SchemaWarning", Warning;
    SERVICE_ENTRY_ADDRESSES_REQUIRED = "IST0134", "ServiceEntryAddressesRequired", Warning;
    DEPRECATED_ANNOTATION = "IST0135", "DeprecatedAnnotation", Info;
    ALPHA_ANNOTATION = "IST0136", "AlphaAnnotation", Info;
    DEPLOYMENT_CONFLICTING_PORTS = "IST0137", "DeploymentConflictingPorts", Warning;
    GATEWAY_DUPLICATE_CERTIFICATE = "IST0138", "GatewayDuplicateCertificate", Warning;
    INVALID_WEBHOOK = "IST0139", "InvalidWebhook", Error;
    INGRESS_ROUTE_RULES_NOT_AFFECTED = "IST0140", "IngressRouteRulesNotAffected", Warning;
    INSUFFICIENT_PERMISSIONS = "IST0141", "InsufficientPermissions", Error;
    UNSUPPORTED_KUBERNETES_VERSION = "IST0142", "UnsupportedKubernetesVersion", Error;
    LOCALHOST_LISTENER = "IST0143", "LocalhostListener", Error;
    INVALID_APPLICATION_UID = "IST0144", "InvalidApplicationUID", Warning;
    CONFLICTING_GATEWAYS = "IST0145", "ConflictingGateways", Error;
    IMAGE_AUTO_WITHOUT_INJECTION_WARNING = "IST0146", "ImageAutoWithoutInjectionWarning", Warning;
    IMAGE_AUTO_WITHOUT_INJECTION_ERROR = "IST0147", "ImageAutoWithoutInjectionError", Error;
    NAMESPACE_INJECTION_ENABLED_BY_DEFAULT = "IST0148", "NamespaceInjectionEnabledByDefault", Info;
    JWT_CLAIM_BASED_ROUTING_WITHOUT_REQUEST_AUTHN = "IST0149", "JwtClaimBasedRoutingWithoutRequestAuthN", Error;
    EXTERNAL_NAME_SERVICE_TYPE_INVALID_PORT_NAME = "IST0150", "ExternalNameServiceTypeInvalidPortName", Warning;
    ENVOY_FILTER_USES_RELATIVE_OPERATION = "IST0151", "EnvoyFilterUsesRelativeOperation", Warning;
    ENVOY_FILTER_USES_REPLACE_OPERATION_INCORRECTLY = "IST0152", "EnvoyFilterUsesReplaceOperationIncorrectly", Error;
    ENVOY_FILTER_USES_ADD_OPERATION_INCORRECTLY = "IST0153", "EnvoyFilterUsesAddOperationIncorrectly", Error;
    ENVOY_FILTER_USES_REMOVE_OPERATION_INCORRECTLY = "IST0154", "EnvoyFilterUsesRemoveOperationIncorrectly", Error;
    ENVOY_FILTER_USES_RELATIVE_OPERATION_WITH_PROXY_VERSION = "IST0155", "EnvoyFilterUsesRelativeOperationWithProxyVersion", Warning;
    UNSUPPORTED_GATEWAY_API_VERSION = "IST0156", "UnsupportedGatewayAPIVersion", Error;
    FUTURE_UNSUPPORTED_GATEWAY_API_VERSION = "IST0172", "FutureUnsupportedGatewayAPIVersion", Warning;
    INVALID_TELEMETRY_PROVIDER = "IST0157", "InvalidTelemetryProvider", Warning;
    PODS_ISTIO_PROXY_IMAGE_MISMATCH_IN_NAMESPACE = "IST0158", "PodsIstioProxyImageMismatchInNamespace", Warning;
    CONFLICTING_TELEMETRY_WORKLOAD_SELECTORS = "IST0159", "ConflictingTelemetryWorkloadSelectors", Error;
    MULTIPLE_TELEMETRIES_WITHOUT_WORKLOAD_SELECTORS = "IST0160", "MultipleTelemetriesWithoutWorkloadSelectors", Error;
    INVALID_GATEWAY_CREDENTIAL = "IST0161", "InvalidGatewayCredential", Error;
    GATEWAY_PORT_NOT_DEFINED_ON_SERVICE = "IST0162", "GatewayPortNotDefinedOnService", Warning;
    INVALID_EXTERNAL_CONTROL_PLANE_CONFIG = "IST0163", "InvalidExternalControlPlaneConfig", Warning;
    EXTERNAL_CONTROL_PLANE_ADDRESS_IS_NOT_A_HOSTNAME = "IST0164", "ExternalControlPlaneAddressIsNotAHostname", Info;
    REFERENCED_INTERNAL_GATEWAY = "IST0165", "ReferencedInternalGateway", Warning;
    INEFFECTIVE_SELECTOR = "IST0166", "IneffectiveSelector", Warning;
    INEFFECTIVE_POLICY = "IST0167", "IneffectivePolicy", Warning;
    UNKNOWN_UPGRADE_COMPATIBILITY = "IST0168", "UnknownUpgradeCompatibility", Warning;
    UPDATE_INCOMPATIBILITY = "IST0169", "UpdateIncompatibility", Warning;
    MULTI_CLUSTER_INCONSISTENT_SERVICE = "IST0170", "MultiClusterInconsistentService", Warning;
    NEGATIVE_CONDITION_STATUS = "IST0171", "NegativeConditionStatus", Warning;
    DESTINATION_RULE_SUBSET_NOT_SELECT_PODS = "IST0173", "DestinationRuleSubsetNotSelectPods", Error;
    UNKNOWN_DESTINATION_RULE_HOST = "IST0174", "UnknownDestinationRuleHost", Warning;
    JWKS_URI_FETCH_UNRESTRICTED = "IST0175", "JwksUriFetchUnrestricted", Warning;
    GATEWAY_API_CRD_VERSION_BELOW_MINIMUM = "IST0176", "GatewayAPICRDVersionBelowMinimum", Warning;
    CONFLICTING_SERVICE_ENTRY_PROTOCOL = "IST0177", "ConflictingServiceEntryProtocol", Warning;
    UNKNOWN_KIND = "VM0001", "UnknownKind", Info;
    UNUSABLE_INPUT = "VM0002", "UnusableInput", Error;
    MTLS_MODE_CONFLICT = "VM0003", "MtlsModeConflict", Error;
    HTTP_ROUTE_ON_NON_HTTP_PORT = "VM0004", "HttpRouteOnNonHttpPort", Warning;
    POLICY_NEVER_MATCHES = "VM0005", "PolicyNeverMatches", Warning;
    JWT_NOT_REQUIRED = "VM0006", "JwtNotRequired", Warning;
    UNMODELED_MESH_CONFIG_FIELD = "VM0007", "UnmodeledMeshConfigField", Warning;
}

pub fn by_code(code: &str) -> Option<MessageType> {
    ALL.iter().copied().find(|m| m.code == code)
}
