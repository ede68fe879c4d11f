/*
 * schema_builtin.c - WMI's built-in system classes, the standard consumer
 * classes and the process trace classes, in the JSON class form that
 * wmi_schema_add_class_json reads (see object.h).  Properties, types and
 * defaults follow Microsoft's class pages; docs/classes.md lists them.
 *
 * Deviations, on purpose: __Win32Provider gains "Library" (the path of the
 * plugin .so; WMI's CLSID has no meaning on Linux), LogFileEventConsumer
 * gains "FileMode" (the mode of a file it creates, docs/consumers.md), and Win32_ProcessTrace
 * carries Sid as a string ("S-1-22-1-<uid>") rather than a binary uint8[]
 * SID, plus CommandLine and ExecutablePath, which Linux can supply.
 *
 * The CIM/Win32 instance classes (CIM_Process, Win32_Process,
 * Win32_LogicalDisk, Win32_OperatingSystem, Win32_LocalTime, ...) keep
 * WMI's spellings and types.  Where CIM declares several keys (CIM_Process:
 * Handle, CreationClassName, CSName, ...; CIM_LogicalDevice: DeviceID,
 * SystemName, ...) only the key WMI's own paths use is marked Key here, so
 * that paths read as on Windows: Win32_Process.Handle="42",
 * Win32_LogicalDisk.DeviceID="/", CIM_DataFile.Name="/etc/passwd".
 * Win32_OperatingSystem is a [singleton] (Win32_OperatingSystem=@): a Linux
 * host runs one.
 */

/* One JSON class definition per string, superclasses first; NULL ends. */
extern const char *const wmi__builtin_classes[];

const char *const wmi__builtin_classes[] = {
    "{\"__CLASS\":\"__SystemClass\",\"__QUALIFIERS\":{\"abstract\":true}}",
    "{\"__CLASS\":\"__IndicationRelated\",\"__SUPERCLASS\":\"__SystemClass\",\"__QUALIFIERS\""
    ":{\"abstract\":true}}",
    "{\"__CLASS\":\"__Event\",\"__SUPERCLASS\":\"__IndicationRelated\",\"__QUALIFIERS\":{\"ab"
    "stract\":true},\"__PROPERTIES\":{\"SECURITY_DESCRIPTOR\":\"uint8[]\",\"TIME_CREATED\":\""
    "uint64\"}}",
    "{\"__CLASS\":\"__ExtrinsicEvent\",\"__SUPERCLASS\":\"__Event\",\"__QUALIFIERS\":{\"abstr"
    "act\":true}}",
    "{\"__CLASS\":\"__SystemEvent\",\"__SUPERCLASS\":\"__ExtrinsicEvent\",\"__QUALIFIERS\":{"
    "\"abstract\":true}}",
    "{\"__CLASS\":\"__EventDroppedEvent\",\"__SUPERCLASS\":\"__SystemEvent\",\"__PROPERTIES\""
    ":{\"Event\":\"object:__Event\",\"IntendedConsumer\":\"ref:__EventConsumer\"}}",
    "{\"__CLASS\":\"__EventQueueOverflowEvent\",\"__SUPERCLASS\":\"__EventDroppedEvent\",\"__"
    "PROPERTIES\":{\"CurrentQueueSize\":\"uint32\"}}",
    "{\"__CLASS\":\"__ConsumerFailureEvent\",\"__SUPERCLASS\":\"__EventDroppedEvent\",\"__PRO"
    "PERTIES\":{\"ErrorCode\":\"uint32\",\"ErrorDescription\":\"string\",\"ErrorObject\":\"ob"
    "ject\"}}",
    "{\"__CLASS\":\"__InstanceOperationEvent\",\"__SUPERCLASS\":\"__Event\",\"__PROPERTIES\":"
    "{\"TargetInstance\":\"object\"}}",
    "{\"__CLASS\":\"__InstanceCreationEvent\",\"__SUPERCLASS\":\"__InstanceOperationEvent\"}",
    "{\"__CLASS\":\"__InstanceDeletionEvent\",\"__SUPERCLASS\":\"__InstanceOperationEvent\"}",
    "{\"__CLASS\":\"__InstanceModificationEvent\",\"__SUPERCLASS\":\"__InstanceOperationEvent"
    "\",\"__PROPERTIES\":{\"PreviousInstance\":\"object\"}}",
    "{\"__CLASS\":\"__MethodInvocationEvent\",\"__SUPERCLASS\":\"__InstanceOperationEvent\","
    "\"__PROPERTIES\":{\"Method\":\"string\",\"Parameters\":\"object\",\"PreCall\":\"boolean"
    "\"}}",
    "{\"__CLASS\":\"__ClassOperationEvent\",\"__SUPERCLASS\":\"__Event\",\"__PROPERTIES\":{\""
    "TargetClass\":\"object\"}}",
    "{\"__CLASS\":\"__ClassCreationEvent\",\"__SUPERCLASS\":\"__ClassOperationEvent\"}",
    "{\"__CLASS\":\"__ClassDeletionEvent\",\"__SUPERCLASS\":\"__ClassOperationEvent\"}",
    "{\"__CLASS\":\"__ClassModificationEvent\",\"__SUPERCLASS\":\"__ClassOperationEvent\",\"_"
    "_PROPERTIES\":{\"PreviousClass\":\"object\"}}",
    "{\"__CLASS\":\"__Namespace\",\"__SUPERCLASS\":\"__SystemClass\",\"__PROPERTIES\":{\"Name"
    "\":{\"CIMType\":\"string\",\"Key\":true}}}",
    "{\"__CLASS\":\"__NamespaceOperationEvent\",\"__SUPERCLASS\":\"__Event\",\"__PROPERTIES\""
    ":{\"TargetNamespace\":\"object:__Namespace\"}}",
    "{\"__CLASS\":\"__NamespaceCreationEvent\",\"__SUPERCLASS\":\"__NamespaceOperationEvent\""
    "}",
    "{\"__CLASS\":\"__NamespaceDeletionEvent\",\"__SUPERCLASS\":\"__NamespaceOperationEvent\""
    "}",
    "{\"__CLASS\":\"__NamespaceModificationEvent\",\"__SUPERCLASS\":\"__NamespaceOperationEve"
    "nt\",\"__PROPERTIES\":{\"PreviousNamespace\":\"object:__Namespace\"}}",
    "{\"__CLASS\":\"__TimerEvent\",\"__SUPERCLASS\":\"__Event\",\"__PROPERTIES\":{\"TimerId\""
    ":\"string\",\"NumFirings\":\"uint32\"}}",
    "{\"__CLASS\":\"__AggregateEvent\",\"__SUPERCLASS\":\"__IndicationRelated\",\"__PROPERTIE"
    "S\":{\"NumberOfEvents\":\"uint32\",\"Representative\":\"object\"}}",
    "{\"__CLASS\":\"__EventGenerator\",\"__SUPERCLASS\":\"__IndicationRelated\",\"__QUALIFIER"
    "S\":{\"abstract\":true}}",
    "{\"__CLASS\":\"__TimerInstruction\",\"__SUPERCLASS\":\"__EventGenerator\",\"__QUALIFIERS"
    "\":{\"abstract\":true},\"__PROPERTIES\":{\"TimerId\":{\"CIMType\":\"string\",\"Key\":tru"
    "e},\"SkipIfPassed\":{\"CIMType\":\"boolean\",\"Default\":false}}}",
    "{\"__CLASS\":\"__IntervalTimerInstruction\",\"__SUPERCLASS\":\"__TimerInstruction\",\"__"
    "PROPERTIES\":{\"IntervalBetweenEvents\":{\"CIMType\":\"uint32\",\"not_null\":true}}}",
    "{\"__CLASS\":\"__AbsoluteTimerInstruction\",\"__SUPERCLASS\":\"__TimerInstruction\",\"__"
    "PROPERTIES\":{\"EventDateTime\":{\"CIMType\":\"datetime\",\"not_null\":true}}}",
    "{\"__CLASS\":\"__TimerNextFiring\",\"__SUPERCLASS\":\"__IndicationRelated\",\"__PROPERTI"
    "ES\":{\"NextEvent64BitTime\":\"sint64\",\"TimerId\":{\"CIMType\":\"string\",\"Key\":true"
    "}}}",
    "{\"__CLASS\":\"__EventFilter\",\"__SUPERCLASS\":\"__IndicationRelated\",\"__PROPERTIES\""
    ":{\"CreatorSID\":{\"CIMType\":\"uint8[]\",\"read\":true},\"EventAccess\":\"string\",\"Ev"
    "entNamespace\":\"string\",\"Name\":{\"CIMType\":\"string\",\"Key\":true},\"Query\":{\"CI"
    "MType\":\"string\",\"not_null\":true},\"QueryLanguage\":{\"CIMType\":\"string\",\"not_nu"
    "ll\":true}}}",
    "{\"__CLASS\":\"__EventConsumer\",\"__SUPERCLASS\":\"__IndicationRelated\",\"__QUALIFIERS"
    "\":{\"abstract\":true},\"__PROPERTIES\":{\"CreatorSID\":{\"CIMType\":\"uint8[]\",\"read"
    "\":true},\"MachineName\":\"string\",\"MaximumQueueSize\":\"uint32\"}}",
    "{\"__CLASS\":\"__FilterToConsumerBinding\",\"__SUPERCLASS\":\"__IndicationRelated\",\"__"
    "QUALIFIERS\":{\"Association\":true},\"__PROPERTIES\":{\"Consumer\":{\"CIMType\":\"ref:__"
    "EventConsumer\",\"Key\":true},\"Filter\":{\"CIMType\":\"ref:__EventFilter\",\"Key\":true"
    "},\"CreatorSID\":{\"CIMType\":\"uint8[]\",\"read\":true},\"DeliverSynchronously\":{\"CIM"
    "Type\":\"boolean\",\"Default\":false},\"DeliveryQoS\":\"uint32\",\"MaintainSecurityConte"
    "xt\":{\"CIMType\":\"boolean\",\"Default\":false},\"SlowDownProviders\":{\"CIMType\":\"bo"
    "olean\",\"Default\":false}}}",
    "{\"__CLASS\":\"__Provider\",\"__SUPERCLASS\":\"__SystemClass\",\"__QUALIFIERS\":{\"abstr"
    "act\":true},\"__PROPERTIES\":{\"Name\":{\"CIMType\":\"string\",\"Key\":true}}}",
    "{\"__CLASS\":\"__Win32Provider\",\"__SUPERCLASS\":\"__Provider\",\"__PROPERTIES\":{\"CLS"
    "ID\":\"string\",\"ClientLoadableCLSID\":\"string\",\"DefaultMachineName\":\"string\",\"E"
    "nabled\":{\"CIMType\":\"boolean\",\"Default\":true},\"HostingModel\":\"string\",\"Impers"
    "onationLevel\":{\"CIMType\":\"sint32\",\"Default\":0},\"InitializationReentrancy\":{\"CI"
    "MType\":\"sint32\",\"Default\":0},\"InitializationTimeoutInterval\":{\"CIMType\":\"datet"
    "ime\",\"SubType\":\"interval\"},\"InitializeAsAdminFirst\":\"boolean\",\"OperationTimeou"
    "tInterval\":{\"CIMType\":\"datetime\",\"SubType\":\"interval\"},\"PerLocaleInitializatio"
    "n\":{\"CIMType\":\"boolean\",\"Default\":false},\"PerUserInitialization\":{\"CIMType\":"
    "\"boolean\",\"Default\":false},\"Pure\":{\"CIMType\":\"boolean\",\"Default\":true},\"Sec"
    "urityDescriptor\":\"string\",\"SupportsExplicitShutdown\":\"boolean\",\"SupportsExtended"
    "Status\":\"boolean\",\"SupportsQuotas\":\"boolean\",\"SupportsSendStatus\":\"boolean\","
    "\"SupportsShutdown\":\"boolean\",\"SupportsThrottling\":\"boolean\",\"UnloadTimeout\":{"
    "\"CIMType\":\"datetime\",\"SubType\":\"interval\"},\"Version\":{\"CIMType\":\"uint32\","
    "\"Default\":1},\"Concurrency\":\"sint32\",\"Library\":\"string\",\"DeadlineMs\":\"uint32\"}}",
    "{\"__CLASS\":\"__ProviderRegistration\",\"__SUPERCLASS\":\"__SystemClass\",\"__QUALIFIER"
    "S\":{\"abstract\":true},\"__PROPERTIES\":{\"provider\":{\"CIMType\":\"ref:__Provider\","
    "\"Key\":true}}}",
    "{\"__CLASS\":\"__EventConsumerProviderRegistration\",\"__SUPERCLASS\":\"__ProviderRegist"
    "ration\",\"__PROPERTIES\":{\"ConsumerClassNames\":\"string[]\"}}",
    "{\"__CLASS\":\"__EventProviderRegistration\",\"__SUPERCLASS\":\"__ProviderRegistration\""
    ",\"__PROPERTIES\":{\"EventQueryList\":\"string[]\"}}",
    "{\"__CLASS\":\"__CacheControl\",\"__SUPERCLASS\":\"__SystemClass\",\"__QUALIFIERS\":{\"a"
    "bstract\":true},\"__PROPERTIES\":{\"ClearAfter\":{\"CIMType\":\"datetime\",\"SubType\":"
    "\"interval\"}}}",
    "{\"__CLASS\":\"__EventConsumerProviderCacheControl\",\"__SUPERCLASS\":\"__CacheControl\""
    ",\"__QUALIFIERS\":{\"singleton\":true}}",
    "{\"__CLASS\":\"__EventProviderCacheControl\",\"__SUPERCLASS\":\"__CacheControl\",\"__QUA"
    "LIFIERS\":{\"singleton\":true}}",
    "{\"__CLASS\":\"__EventSinkCacheControl\",\"__SUPERCLASS\":\"__CacheControl\",\"__QUALIFI"
    "ERS\":{\"singleton\":true}}",
    "{\"__CLASS\":\"ActiveScriptEventConsumer\",\"__SUPERCLASS\":\"__EventConsumer\",\"__PROP"
    "ERTIES\":{\"KillTimeout\":{\"CIMType\":\"uint32\",\"Default\":0},\"Name\":{\"CIMType\":"
    "\"string\",\"Key\":true},\"ScriptingEngine\":{\"CIMType\":\"string\",\"not_null\":true},"
    "\"ScriptFileName\":\"string\",\"ScriptText\":\"string\"}}",
    "{\"__CLASS\":\"CommandLineEventConsumer\",\"__SUPERCLASS\":\"__EventConsumer\",\"__PROPE"
    "RTIES\":{\"CommandLineTemplate\":{\"CIMType\":\"string\",\"Template\":true},\"CreateNewC"
    "onsole\":{\"CIMType\":\"boolean\",\"Default\":false},\"CreateNewProcessGroup\":{\"CIMTyp"
    "e\":\"boolean\",\"Default\":true},\"CreateSeparateWowVdm\":{\"CIMType\":\"boolean\",\"De"
    "fault\":false},\"CreateSharedWowVdm\":{\"CIMType\":\"boolean\",\"Default\":false},\"Desk"
    "topName\":\"string\",\"ExecutablePath\":\"string\",\"FillAttribute\":\"uint32\",\"FillAt"
    "tributes\":\"uint32\",\"ForceOffFeedback\":{\"CIMType\":\"boolean\",\"Default\":false},"
    "\"ForceOnFeedback\":{\"CIMType\":\"boolean\",\"Default\":false},\"KillTimeout\":{\"CIMTy"
    "pe\":\"uint32\",\"Default\":0},\"Name\":{\"CIMType\":\"string\",\"Key\":true},\"Priority"
    "\":{\"CIMType\":\"sint32\",\"Default\":32},\"RunInteractively\":{\"CIMType\":\"boolean\""
    ",\"Default\":false},\"ShowWindowCommand\":\"uint32\",\"UseDefaultErrorMode\":{\"CIMType"
    "\":\"boolean\",\"Default\":false},\"WindowTitle\":\"string\",\"WorkingDirectory\":\"stri"
    "ng\",\"XCoordinate\":\"uint32\",\"XNumCharacters\":\"uint32\",\"XSize\":\"uint32\",\"YCo"
    "ordinate\":\"uint32\",\"YNumCharacters\":\"uint32\",\"YSize\":\"uint32\"}}",
    "{\"__CLASS\":\"LogFileEventConsumer\",\"__SUPERCLASS\":\"__EventConsumer\",\"__PROPERTIE"
    "S\":{\"FileMode\":\"string\",\"Filename\":\"string\",\"IsUnicode\":\"boolean\",\"MaximumFileSize\":{\"CIMType\":"
    "\"uint64\",\"Default\":65535},\"Name\":{\"CIMType\":\"string\",\"Key\":true},\"Text\":{"
    "\"CIMType\":\"string\",\"Template\":true}}}",
    "{\"__CLASS\":\"NTEventLogEventConsumer\",\"__SUPERCLASS\":\"__EventConsumer\",\"__PROPER"
    "TIES\":{\"Category\":\"uint16\",\"EventID\":{\"CIMType\":\"uint32\",\"not_null\":true},"
    "\"EventType\":{\"CIMType\":\"uint32\",\"Default\":1},\"InsertionStringTemplates\":{\"CIM"
    "Type\":\"string[]\",\"Template\":true,\"Default\":[\"\"]},\"Name\":{\"CIMType\":\"string"
    "\",\"Key\":true},\"NameOfRawDataProperty\":\"string\",\"NameOfUserSidProperty\":\"string"
    "\",\"NumberOfInsertionStrings\":{\"CIMType\":\"uint32\",\"Default\":0},\"SourceName\":\""
    "string\",\"UNCServerName\":\"string\"}}",
    "{\"__CLASS\":\"SMTPEventConsumer\",\"__SUPERCLASS\":\"__EventConsumer\",\"__PROPERTIES\""
    ":{\"BccLine\":{\"CIMType\":\"string\",\"Template\":true},\"CcLine\":{\"CIMType\":\"strin"
    "g\",\"Template\":true},\"FromLine\":{\"CIMType\":\"string\",\"Template\":true},\"HeaderF"
    "ields\":\"string[]\",\"Message\":{\"CIMType\":\"string\",\"Template\":true},\"Name\":{\""
    "CIMType\":\"string\",\"Key\":true},\"ReplyToLine\":{\"CIMType\":\"string\",\"Template\":"
    "true},\"SMTPServer\":{\"CIMType\":\"string\",\"not_null\":true},\"Subject\":{\"CIMType\""
    ":\"string\",\"Template\":true},\"ToLine\":{\"CIMType\":\"string\",\"Template\":true}}}",
    "{\"__CLASS\":\"Win32_SystemTrace\",\"__SUPERCLASS\":\"__ExtrinsicEvent\",\"__QUALIFIERS"
    "\":{\"abstract\":true}}",
    "{\"__CLASS\":\"Win32_ProcessTrace\",\"__SUPERCLASS\":\"Win32_SystemTrace\",\"__PROPERTIE"
    "S\":{\"ParentProcessID\":\"uint32\",\"ProcessID\":\"uint32\",\"ProcessName\":\"string\","
    "\"SessionID\":\"uint32\",\"Sid\":\"string\",\"CommandLine\":\"string\",\"ExecutablePath"
    "\":\"string\"}}",
    "{\"__CLASS\":\"Win32_ProcessStartTrace\",\"__SUPERCLASS\":\"Win32_ProcessTrace\"}",
    "{\"__CLASS\":\"Win32_ProcessStopTrace\",\"__SUPERCLASS\":\"Win32_ProcessTrace\",\"__PROP"
    "ERTIES\":{\"ExitStatus\":\"uint32\"}}",
    (const char *)0,
};

/*
 * The CIM and Win32 instance classes (root\\cimv2 on Windows) served by the
 * daemon's instance providers (src/daemon/providers); docs/classes.md says
 * where each value comes from.  Not part of wmi_schema_new: a schema gets
 * them from wmi_schema_add_instance_classes, so that tools and object files
 * that define their own Win32_Process for tests keep working.
 */
extern const char *const wmi__builtin_instance_classes[];

const char *const wmi__builtin_instance_classes[] = {
    "{\"__CLASS\":\"CIM_ManagedSystemElement\",\"__QUALIFIERS\":{\"abstract\":true},\"__PRO"
    "PERTIES\":{\"Caption\":\"string\",\"Description\":\"string\",\"InstallDate\":\"datetim"
    "e\",\"Name\":\"string\",\"Status\":\"string\"}}",
    "{\"__CLASS\":\"CIM_LogicalElement\",\"__SUPERCLASS\":\"CIM_ManagedSystemElement\",\"__"
    "QUALIFIERS\":{\"abstract\":true}}",
    "{\"__CLASS\":\"CIM_Process\",\"__SUPERCLASS\":\"CIM_LogicalElement\",\"__QUALIFIERS\":"
    "{\"abstract\":true},\"__PROPERTIES\":{\"CreationClassName\":\"string\",\"CreationDate"
    "\":\"datetime\",\"CSCreationClassName\":\"string\",\"CSName\":\"string\",\"ExecutionSt"
    "ate\":\"uint16\",\"Handle\":{\"CIMType\":\"string\",\"Key\":true},\"KernelModeTime\":"
    "\"uint64\",\"OSCreationClassName\":\"string\",\"OSName\":\"string\",\"Priority\":\"uin"
    "t32\",\"TerminationDate\":\"datetime\",\"UserModeTime\":\"uint64\",\"WorkingSetSize\":"
    "\"uint64\"}}",
    "{\"__CLASS\":\"Win32_Process\",\"__SUPERCLASS\":\"CIM_Process\",\"__PROPERTIES\":{\"Co"
    "mmandLine\":\"string\",\"ExecutablePath\":\"string\",\"HandleCount\":\"uint32\",\"Maxi"
    "mumWorkingSetSize\":\"uint32\",\"MinimumWorkingSetSize\":\"uint32\",\"OtherOperationCo"
    "unt\":\"uint64\",\"OtherTransferCount\":\"uint64\",\"PageFaults\":\"uint32\",\"PageFil"
    "eUsage\":\"uint32\",\"ParentProcessId\":\"uint32\",\"PeakPageFileUsage\":\"uint32\",\""
    "PeakVirtualSize\":\"uint64\",\"PeakWorkingSetSize\":\"uint32\",\"PrivatePageCount\":\""
    "uint64\",\"ProcessId\":\"uint32\",\"QuotaNonPagedPoolUsage\":\"uint32\",\"QuotaPagedPo"
    "olUsage\":\"uint32\",\"QuotaPeakNonPagedPoolUsage\":\"uint32\",\"QuotaPeakPagedPoolUsa"
    "ge\":\"uint32\",\"ReadOperationCount\":\"uint64\",\"ReadTransferCount\":\"uint64\",\"S"
    "essionId\":\"uint32\",\"ThreadCount\":\"uint32\",\"VirtualSize\":\"uint64\",\"WindowsV"
    "ersion\":\"string\",\"WriteOperationCount\":\"uint64\",\"WriteTransferCount\":\"uint64"
    "\"}}",
    "{\"__CLASS\":\"CIM_LogicalDevice\",\"__SUPERCLASS\":\"CIM_LogicalElement\",\"__QUALIFI"
    "ERS\":{\"abstract\":true},\"__PROPERTIES\":{\"Availability\":\"uint16\",\"ConfigManage"
    "rErrorCode\":\"uint32\",\"ConfigManagerUserConfig\":\"boolean\",\"CreationClassName\":"
    "\"string\",\"DeviceID\":{\"CIMType\":\"string\",\"Key\":true},\"ErrorCleared\":\"boole"
    "an\",\"ErrorDescription\":\"string\",\"LastErrorCode\":\"uint32\",\"PNPDeviceID\":\"st"
    "ring\",\"PowerManagementCapabilities\":\"uint16[]\",\"PowerManagementSupported\":\"boo"
    "lean\",\"StatusInfo\":\"uint16\",\"SystemCreationClassName\":\"string\",\"SystemName\""
    ":\"string\"}}",
    "{\"__CLASS\":\"CIM_StorageExtent\",\"__SUPERCLASS\":\"CIM_LogicalDevice\",\"__QUALIFIE"
    "RS\":{\"abstract\":true},\"__PROPERTIES\":{\"Access\":\"uint16\",\"BlockSize\":\"uint6"
    "4\",\"ErrorMethodology\":\"string\",\"NumberOfBlocks\":\"uint64\",\"Purpose\":\"string"
    "\"}}",
    "{\"__CLASS\":\"CIM_LogicalDisk\",\"__SUPERCLASS\":\"CIM_StorageExtent\",\"__QUALIFIERS"
    "\":{\"abstract\":true},\"__PROPERTIES\":{\"FreeSpace\":\"uint64\",\"Size\":\"uint64\"}"
    "}",
    "{\"__CLASS\":\"Win32_LogicalDisk\",\"__SUPERCLASS\":\"CIM_LogicalDisk\",\"__PROPERTIES"
    "\":{\"Compressed\":\"boolean\",\"DriveType\":\"uint32\",\"FileSystem\":\"string\",\"Ma"
    "ximumComponentLength\":\"uint32\",\"MediaType\":\"uint32\",\"ProviderName\":\"string\""
    ",\"QuotasDisabled\":\"boolean\",\"QuotasIncomplete\":\"boolean\",\"QuotasRebuilding\":"
    "\"boolean\",\"SupportsDiskQuotas\":\"boolean\",\"SupportsFileBasedCompression\":\"bool"
    "ean\",\"VolumeDirty\":\"boolean\",\"VolumeName\":\"string\",\"VolumeSerialNumber\":\"s"
    "tring\"}}",
    "{\"__CLASS\":\"CIM_OperatingSystem\",\"__SUPERCLASS\":\"CIM_LogicalElement\",\"__QUALI"
    "FIERS\":{\"abstract\":true},\"__PROPERTIES\":{\"CreationClassName\":\"string\",\"CSCre"
    "ationClassName\":\"string\",\"CSName\":\"string\",\"CurrentTimeZone\":\"sint16\",\"Dis"
    "tributed\":\"boolean\",\"FreePhysicalMemory\":\"uint64\",\"FreeSpaceInPagingFiles\":\""
    "uint64\",\"FreeVirtualMemory\":\"uint64\",\"LastBootUpTime\":\"datetime\",\"LocalDateT"
    "ime\":\"datetime\",\"MaxNumberOfProcesses\":\"uint32\",\"MaxProcessMemorySize\":\"uint"
    "64\",\"NumberOfLicensedUsers\":\"uint32\",\"NumberOfProcesses\":\"uint32\",\"NumberOfU"
    "sers\":\"uint32\",\"OSType\":\"uint16\",\"OtherTypeDescription\":\"string\",\"SizeStor"
    "edInPagingFiles\":\"uint64\",\"TotalSwapSpaceSize\":\"uint64\",\"TotalVirtualMemorySiz"
    "e\":\"uint64\",\"TotalVisibleMemorySize\":\"uint64\",\"Version\":\"string\"}}",
    "{\"__CLASS\":\"Win32_OperatingSystem\",\"__SUPERCLASS\":\"CIM_OperatingSystem\",\"__QU"
    "ALIFIERS\":{\"singleton\":true},\"__PROPERTIES\":{\"BootDevice\":\"string\",\"BuildNum"
    "ber\":\"string\",\"BuildType\":\"string\",\"CodeSet\":\"string\",\"CountryCode\":\"str"
    "ing\",\"CSDVersion\":\"string\",\"Locale\":\"string\",\"Manufacturer\":\"string\",\"OS"
    "Architecture\":\"string\",\"OSLanguage\":\"uint32\",\"OSProductSuite\":\"uint32\",\"Or"
    "ganization\":\"string\",\"Primary\":\"boolean\",\"ProductType\":\"uint32\",\"Registere"
    "dUser\":\"string\",\"SerialNumber\":\"string\",\"ServicePackMajorVersion\":\"uint16\","
    "\"ServicePackMinorVersion\":\"uint16\",\"SystemDevice\":\"string\",\"SystemDirectory\""
    ":\"string\",\"SystemDrive\":\"string\",\"WindowsDirectory\":\"string\"}}",
    "{\"__CLASS\":\"Win32_CurrentTime\",\"__QUALIFIERS\":{\"abstract\":true},\"__PROPERTIES"
    "\":{\"Day\":\"uint32\",\"DayOfWeek\":\"uint32\",\"Hour\":\"uint32\",\"Milliseconds\":"
    "\"uint32\",\"Minute\":\"uint32\",\"Month\":\"uint32\",\"Quarter\":\"uint32\",\"Second"
    "\":\"uint32\",\"WeekInMonth\":\"uint32\",\"Year\":\"uint32\"}}",
    "{\"__CLASS\":\"Win32_LocalTime\",\"__SUPERCLASS\":\"Win32_CurrentTime\",\"__QUALIFIERS"
    "\":{\"singleton\":true}}",
    "{\"__CLASS\":\"Win32_UTCTime\",\"__SUPERCLASS\":\"Win32_CurrentTime\",\"__QUALIFIERS\""
    ":{\"singleton\":true}}",
    "{\"__CLASS\":\"CIM_LogicalFile\",\"__SUPERCLASS\":\"CIM_LogicalElement\",\"__QUALIFIER"
    "S\":{\"abstract\":true},\"__PROPERTIES\":{\"AccessMask\":\"uint32\",\"Archive\":\"bool"
    "ean\",\"Compressed\":\"boolean\",\"CompressionMethod\":\"string\",\"CreationClassName"
    "\":\"string\",\"CreationDate\":\"datetime\",\"CSCreationClassName\":\"string\",\"CSNam"
    "e\":\"string\",\"Drive\":\"string\",\"EightDotThreeFileName\":\"string\",\"Encrypted\""
    ":\"boolean\",\"EncryptionMethod\":\"string\",\"Extension\":\"string\",\"FileName\":\"s"
    "tring\",\"FileSize\":\"uint64\",\"FileType\":\"string\",\"FSCreationClassName\":\"stri"
    "ng\",\"FSName\":\"string\",\"Hidden\":\"boolean\",\"InUseCount\":\"uint64\",\"LastAcce"
    "ssed\":\"datetime\",\"LastModified\":\"datetime\",\"Name\":{\"CIMType\":\"string\",\"K"
    "ey\":true},\"Path\":\"string\",\"Readable\":\"boolean\",\"System\":\"boolean\",\"Write"
    "able\":\"boolean\"}}",
    "{\"__CLASS\":\"CIM_DataFile\",\"__SUPERCLASS\":\"CIM_LogicalFile\",\"__PROPERTIES\":{"
    "\"Manufacturer\":\"string\",\"Version\":\"string\"}}",
    "{\"__CLASS\":\"CIM_Directory\",\"__SUPERCLASS\":\"CIM_LogicalFile\"}",
    (const char *)0,
};
