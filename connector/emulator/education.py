"""Education Cloud objects and the Account record types of a person-account org.

Switched on with person accounts (``--person-accounts`` / ``personAccounts: true``): Education
Cloud's set-up guide has the step "Turn on person accounts"
(https://help.salesforce.com/s/articleView?id=sfdo.ec_set_up_your_org.htm), so an org with
these objects is an org with person accounts. Fields are the documented subset a connector
writes, with the types and properties of the Education Cloud Developer Guide's object pages
(https://developer.salesforce.com/docs/atlas.en-us.edu_cloud_dev_guide.meta/edu_cloud_dev_guide/edu_cloud_standard_objects.htm):
a field listed there without "Create" is read-only here, one without "Nillable" is required.
``Crebo__c`` and ``SIS_Sync_Key__c`` are the school's own external ids (the README tells an admin
to create them), not Salesforce's. Key prefixes are [unverified] (a real org's describe is the
truth). The object pages do not say what deleting a parent does; every lookup here is a plain
lookup, which Salesforce clears when the parent is deleted (SetNull, the default
``deleteConstraint`` of CustomField) [unverified for these standard objects].
"""

from __future__ import annotations

from connector.emulator.objects_default import _b, _ext, _owner, _p, _r, _s, _t
from connector.emulator.org_schema import FieldDef


def _ro(name: str, typ: str, length: int = 0) -> FieldDef:
    """A documented field without "Create"/"Update": filled by Salesforce."""
    return FieldDef(name, typ, name, length, createable=False, updateable=False)


_NAME = _s("Name", 255, req=True)
_LEVELS = [
    "Adult Education",
    "Doctoral",
    "Elementary",
    "Graduate",
    "High School",
    "Middle School",
    "Post-Baccalaureate Certificate",
    "Pre-K/Preschool",
    "Professional Education",
    "Undergraduate",
]
_STANDING = [
    "Academic Dismissal",
    "Academic Probation",
    "Academic Warning",
    "Good Standing",
    "Honors/Dean's List",
    "Reinstatement Status",
    "Required Withdrawal",
]

# LearningProgram: AcademicLevel, ActiveFromDate/ActiveToDate and CipCode are "Filter, Group,
# Nillable, Sort" only — read-only through the API.
LEARNING_PROGRAM = [
    _NAME,
    _s("Description", 32000, "textarea"),
    FieldDef(
        "AcademicLevel",
        "picklist",
        "AcademicLevel",
        255,
        createable=False,
        updateable=False,
        picklist=_LEVELS,
        restricted=True,
    ),
    _ro("ActiveFromDate", "date"),
    _ro("ActiveToDate", "date"),
    _ro("CipCode", "string", 255),
    _r("ProviderId", ["Account"]),
    _owner(),
    _ext("Crebo__c", 20),
]

LEARNING_PROGRAM_PLAN = [
    _NAME,
    _r("LearningProgramId", ["LearningProgram"]),
    _t("ActiveFromDate", "date"),
    _t("ActiveToDate", "date"),
    _s("Description", 32000, "textarea"),
    _b("IsActive"),
    _r("ProviderId", ["Account"]),
    _owner(),
    _ext("SIS_Sync_Key__c", 64),
    # The school's own: the plan new learners of a programme follow, by its crebo (LearnerProgram
    # has no LearningProgramId, so a learner reaches a programme through its plan).
    _ext("Crebo__c", 20),
]

# LearnerProgram: LearnerAccountId is "Create, Filter, Group, Sort, Update" (not nillable).
LEARNER_PROGRAM = [
    _NAME,
    _r("LearnerAccountId", ["Account"], req=True),
    _r("LearnerContactId", ["Contact"]),
    _r("LearningProgramPlanId", ["LearningProgramPlan"]),
    _p("Status", ["Active", "Inactive", "Completed", "Withdrawn"]),
    _t("StartDate", "date"),
    _t("EndDate", "date"),
    _t("ExpectedGraduationDate", "date"),
    _p("CatalogYear", []),
    _p("ClassCohort", []),
    _s("Description", 32000, "textarea"),
    _owner(),
    _ext("SIS_Sync_Key__c", 64),
]

ACADEMIC_TERM = [
    _NAME,
    _t("StartDate", "date"),
    _t("EndDate", "date"),
    _p("TermType", ["Semester", "Quarter", "Trimester", "Year", "Other"]),
    _r("ParentTermId", ["AcademicTerm"]),
    _s("Description", 32000, "textarea"),
    _owner(),
    _ext("SIS_Sync_Key__c", 64),
]

ACADEMIC_TERM_ENROLLMENT = [
    _NAME,
    _r("LearnerAccountId", ["Account"]),
    _r("LearnerContactId", ["Contact"]),
    _r("AcademicTermId", ["AcademicTerm"]),
    _p("AcademicStanding", _STANDING, restricted=True),
    _p("EnrollmentStatus", ["Enrolled", "Withdrawn", "Completed"]),
    _t("EnrollmentDate", "date"),
    _t("ExitDate", "date"),
    _owner(),
    _ext("SIS_Sync_Key__c", 64),
]

# IndividualApplication (Education Cloud): Category is "Create, Filter, Group, Sort, Update"
# (required) with the one value Education; ApplicantEmail/ApplicantPhone are read-only mirrors
# of the applicant. AccountId is the applicant, ContactId whoever prepares the application.
# LearningProgramId is from the Education Application DMO [unverified on the object page].
INDIVIDUAL_APPLICATION = [
    _s("Name", 80),
    _r("AccountId", ["Account"]),
    _r("ContactId", ["Contact"]),
    _r("LearningProgramId", ["LearningProgram"]),
    _p("Category", ["Education"], req=True, restricted=True),
    _p("ApplicationType", ["Graduate", "International", "Transfer", "Undergraduate"]),
    _p("ApplicationCategory", ["Early Decision", "Regular Decision"]),
    _p(
        "Status",
        ["In Progress", "Submitted", "In Review", "Approved", "Denied", "Withdrawn"],
        req=True,
        default="In Progress",  # [unverified] default value
    ),
    _t("AppliedDate", "datetime"),
    _t("ApprovedDate", "datetime"),
    _ro("ApplicantEmail", "email", 80),
    _ro("ApplicantPhone", "phone", 40),
    _owner(),
    _ext("SIS_Sync_Key__c", 64),
]

# ContactProfile: "ethnicity, citizenship, birth place, race" — special-category data.
# ContactId is "Create, Filter, Group, Sort": required and never changed after create.
CONTACT_PROFILE = [
    _s("Name", 80),
    _r("ContactId", ["Contact"], req=True, create_only=True),
    _s("BirthPlace", 255),
    _p("Ethnicity", ["Hispanic or Latino", "Not Hispanic or Latino", "Not Selected"]),
    _p("HighestEducationLevel", ["Graduate", "High School", "Masters", "Other", "PhD"]),
    _b("IsFirstGenerationStudent"),
    _owner(),
    _ext("SIS_Sync_Key__c", 64),
]

# name → (label, key prefix [unverified], fields)
EDUCATION_OBJECTS: dict[str, tuple[str, str, list[FieldDef]]] = {
    "LearningProgram": ("Learning Program", "0tL", LEARNING_PROGRAM),
    "LearningProgramPlan": ("Learning Program Plan", "0tM", LEARNING_PROGRAM_PLAN),
    "LearnerProgram": ("Learner Program", "0tN", LEARNER_PROGRAM),
    "AcademicTerm": ("Academic Term", "0tO", ACADEMIC_TERM),
    "AcademicTermEnrollment": ("Academic Term Enrollment", "0tP", ACADEMIC_TERM_ENROLLMENT),
    "IndividualApplication": ("Individual Application", "0tQ", INDIVIDUAL_APPLICATION),
    "ContactProfile": ("Contact Profile", "0tR", CONTACT_PROFILE),
}

# "Salesforce provides one default person account record type, PersonAccount" — Person
# Account Record Types, https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_guidelines_personaccounts.htm
# A business record type must exist before person accounts can be enabled; it is the default.
ACCOUNT_RECORD_TYPES = [
    {"DeveloperName": "Business_Account", "Name": "Business Account", "default": True},
    {"DeveloperName": "PersonAccount", "Name": "Person Account", "IsPersonType": True},
]
