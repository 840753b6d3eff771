"""Veeva CRM's object and field API names, in one place.

Veeva CRM runs on Salesforce: objects and fields are addressed by their API
names (``__c`` custom, ``_vod`` Veeva-managed). The load files this pack
writes use them as column headers, the way Salesforce Data Loader and the
Bulk API read them; a parent is referenced by its external id with the
``Relationship__r.External_Id_vod__c`` header, so a load is an *upsert* on
the external id and a reload updates the records it created instead of
duplicating them.

Sources (Veeva CRM Help, "Components of Multichannel Cycle Plans", "Using the
Account Territory Loader"; Veeva Support, "How are territory values defined"):

* MCCP: ``MC_Cycle_vod__c`` (the cycle: dates, status), its channels
  ``MC_Cycle_Channel_vod__c``, one ``MC_Cycle_Plan_vod__c`` per territory,
  ``MC_Cycle_Plan_Target_vod__c`` per targeted account (its overall
  ``Channel_Interactions_Goal_vod__c``) and ``MC_Cycle_Plan_Channel_vod__c``
  per target and channel (``Channel_Activity_Goal_vod__c``, the goal admins
  must populate; Veeva's MCCP job computes the weighted interaction goals).
* ``TSF_vod__c``: the account's fields per territory (``My_Target_vod__c``);
  segments go into custom fields an admin creates on it.
* ``Account_Territory_Loader_vod__c``: territories to add, written
  ``;T1;T2;`` (leading and trailing semicolons, even for one territory).
"""

from __future__ import annotations

#: The harmonia channels as Veeva MCCP channel objects: the activity object
#: whose records count towards the goal, and the label reps see.
CHANNEL_OBJECTS = {
    "face_to_face": ("Call2_vod__c", "Face to face"),
    "remote": ("Call2_vod__c", "Remote meeting"),
    "phone": ("Call2_vod__c", "Phone"),
    "email": ("Sent_Email_vod__c", "Approved email"),
    "event": ("EM_Event_vod__c", "Event"),
    "web": ("Multichannel_Activity_vod__c", "Web"),
    "sample": ("Call2_vod__c", "Samples"),
}

#: Status of a cycle and its plans when loaded: Veeva's process scheduler
#: activates a planned cycle on its start date.
CYCLE_STATUSES = ("Planned_vod", "In_Progress_vod")

CYCLE = "MC_Cycle_vod__c"
CYCLE_CHANNEL = "MC_Cycle_Channel_vod__c"
CYCLE_PLAN = "MC_Cycle_Plan_vod__c"
CYCLE_PLAN_TARGET = "MC_Cycle_Plan_Target_vod__c"
CYCLE_PLAN_CHANNEL = "MC_Cycle_Plan_Channel_vod__c"
TERRITORY_FIELDS = "TSF_vod__c"
ACCOUNT_TERRITORY_LOADER = "Account_Territory_Loader_vod__c"

#: Load order: a parent before the records that reference it.
LOAD_ORDER = (
    ACCOUNT_TERRITORY_LOADER,
    TERRITORY_FIELDS,
    CYCLE,
    CYCLE_CHANNEL,
    CYCLE_PLAN,
    CYCLE_PLAN_TARGET,
    CYCLE_PLAN_CHANNEL,
)

# --- the account extract --------------------------------------------------------

ACCOUNT = "Account"
ADDRESS = "Address_vod__c"
CHILD_ACCOUNT = "Child_Account_vod__c"

#: Account record types of organisations (HCO); the harmonia specialty
#: column carries the organisation's kind for them.
HCO_RECORD_TYPES = {
    "Hospital_vod": "hospital",
    "Hospital_Department_vod": "hospital",
    "Institution_vod": "hospital",
    "Organization_vod": "organisation",
    "Practice_vod": "group_practice",
    "Pharmacy_vod": "pharmacy",
    "Group_Practice_vod": "group_practice",
}
